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
