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
const rowDate = (value: unknown): Date | null => (value == null ? null : value instanceof Date ? value : new Date(value as string));

/** What `selectColumns` needs of the ORM: an entity's persisted properties and their columns. */
interface MetadataSource {
  getMetadata(): {
    find(entityName: string): { props: ReadonlyArray<{ name: string; fieldNames?: string[]; kind: string; persist?: boolean; runtimeType?: string; columnTypes?: string[] }> } | undefined;
  };
}

const columnLists = new Map<string, ReadonlyArray<readonly [column: string, property: string]>>();
const selectLists = new Map<string, string>();

/** An entity's columns and property names, from the ORM's metadata (so they follow the entity). */
function columnsOf(source: MetadataSource, entity: { name: string }): ReadonlyArray<readonly [string, string]> {
  let columns = columnLists.get(entity.name);
  if (!columns) {
    const meta = source.getMetadata().find(entity.name);
    if (!meta) throw new Error(`no metadata for ${entity.name}`);
    columns = meta.props.filter((prop) => prop.kind === 'scalar' && prop.persist !== false && prop.fieldNames?.length === 1).map((prop) => [prop.fieldNames![0], prop.name] as const);
    columnLists.set(entity.name, columns);
  }
  return columns;
}

/**
 * The select list of an entity's columns under the property names (`m.channel_id as "channelId"`):
 * the driver then builds each row with the entity's keys, and the mapper converts in place
 * (`typedRow`) instead of copying every row into a new object.
 */
export function selectColumns(source: MetadataSource, entity: { name: string }, alias: string): string {
  const key = `${entity.name}|${alias}`;
  let list = selectLists.get(key);
  if (list === undefined) {
    list = columnsOf(source, entity)
      .map(([column, property]) => `${alias}.${column} as "${property}"`)
      .join(', ');
    selectLists.set(key, list);
  }
  return list;
}

/** A row already keyed by property names (see selectColumns): timestamps to Dates and bigint counters to numbers, in place. */
export function typedRow<T>(row: Record<string, unknown>, kinds: { dates: readonly string[]; numbers?: readonly string[] }): T {
  for (const key of kinds.dates) row[key] = rowDate(row[key]);
  for (const key of kinds.numbers ?? []) if (row[key] != null && typeof row[key] !== 'number') row[key] = Number(row[key]);
  return row as T;
}

const detachedKinds = new Map<string, { dates: string[]; numbers: string[] }>();

/**
 * A row selected with `selectColumns` as an instance of its entity class that no EntityManager
 * tracks (no identity map, no change-tracking snapshot): timestamps and bigint counters converted
 * in place, the entity's prototype set (so `instanceof` holds). For rows kept long or shared,
 * such as the live feed's; never to be persisted.
 */
export function detachedEntity<T extends object>(source: MetadataSource, entity: new () => T, row: Record<string, unknown>): T {
  let kinds = detachedKinds.get(entity.name);
  if (!kinds) {
    const props = source.getMetadata().find(entity.name)?.props.filter((prop) => prop.kind === 'scalar' && prop.persist !== false) ?? [];
    kinds = {
      dates: props.filter((prop) => prop.runtimeType === 'Date').map((prop) => prop.name),
      numbers: props.filter((prop) => prop.columnTypes?.[0] === 'bigint').map((prop) => prop.name),
    };
    detachedKinds.set(entity.name, kinds);
  }
  return Object.setPrototypeOf(typedRow<T>(row, kinds), entity.prototype) as T;
}
