/**
 * A uuid[] query parameter as a PostgreSQL array literal (use with `?::uuid[]`): the query
 * builder would expand a JavaScript array into a list. Ids here come from validated input or
 * the database.
 */
export function uuidArray(ids: readonly string[]): string {
  return `{${ids.join(',')}}`;
}

/** A text[] query parameter as a PostgreSQL array literal (use with `?::text[]`), each element quoted; null elements are NULL. */
export function textArray(values: readonly (string | null)[]): string {
  return `{${values.map((value) => (value === null ? 'NULL' : `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`)).join(',')}}`;
}

/** A timestamp column of a plain row as a Date (null stays null). */
export const rowDate = (value: unknown): Date | null => (value == null ? null : value instanceof Date ? value : new Date(value as string));

const camelNames = new Map<string, string>();
const camel = (column: string) => {
  let name = camelNames.get(column);
  if (name === undefined) camelNames.set(column, (name = column.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase())));
  return name;
};

/**
 * A row of `select *` as a plain object with the entity's property names (snake_case columns to
 * camelCase), timestamps as Dates and bigint counters as numbers: for reads that only present or
 * check rows, without the ORM's hydration. Plain, not the entity's class: its prototype carries
 * the ORM's property accessors, which would run on every field.
 */
export function plainRow<T>(row: Record<string, unknown>, kinds: { dates: readonly string[]; numbers?: readonly string[] }): T {
  const out: Record<string, unknown> = {};
  for (const column in row) out[camel(column)] = row[column];
  for (const key of kinds.dates) out[key] = rowDate(out[key]);
  for (const key of kinds.numbers ?? []) if (out[key] != null) out[key] = Number(out[key]);
  return out as T;
}
