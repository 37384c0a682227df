import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { detachedEntity, selectColumns, uuidArray } from './sql';

/** What this module needs of a pooled `pg` client. */
interface PgClient {
  query(config: { name?: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
  connection: { parsedStatements: Record<string, string> };
}

/** What this module needs of the ORM's query builder: its pool and its query event (statement counts listen to it). */
interface Knex {
  client: { acquireConnection(): Promise<PgClient>; releaseConnection(client: PgClient): Promise<void> };
  emit(event: 'query', data: { sql: string; bindings: unknown[] }): boolean;
}

/** Statement texts beyond this many are run unnamed: each named one stays prepared on every pooled connection. */
const MAX_NAMED = 500;
const named = new Map<string, { text: string; name: string }>();

function prepare(sql: string): { text: string; name?: string } {
  const known = named.get(sql);
  if (known) return known;
  let index = 0;
  const text = sql.replace(/\?/g, () => `$${++index}`);
  if (named.size >= MAX_NAMED) return { text };
  const entry = { text, name: `q_${createHash('sha1').update(text).digest('hex').slice(0, 24)}` };
  named.set(sql, entry);
  return entry;
}

/** "cached plan must not change result type": a migration changed a table under a prepared `select *`. */
const isStalePlan = (error: unknown) => (error as { code?: string }).code === '0A000' && /cached plan must not change result type/.test((error as Error).message);

/**
 * Rows of a statement (`?` placeholders, no `?` operators) run as a named prepared statement:
 * PostgreSQL parses and plans it once per connection instead of on every request (the ORM
 * inlines parameters into a new text each time, so it never can). It runs on the transaction's
 * connection when `em` is in one, on the ORM's pool otherwise.
 */
export async function preparedRows<T extends unknown[] = Record<string, unknown>[]>(em: EntityManager, sql: string, params: readonly unknown[]): Promise<T> {
  const root = em.getConnection().getKnex() as unknown as Knex;
  const transaction = em.isInTransaction() ? (em.getTransactionContext() as unknown as Knex & { isCompleted(): boolean }) : undefined;
  // The ORM leaves a finished transaction on its fork: its connection is back in the pool.
  if (transaction?.isCompleted()) throw new Error('statement on a transaction that has already ended');
  // A transaction's own client hands out its one connection and never releases it to the pool.
  const knex = transaction ?? root;
  const statement = prepare(sql);
  const values = params as unknown[];
  root.emit('query', { sql, bindings: values });
  const client = await knex.client.acquireConnection();
  try {
    try {
      return (await client.query({ ...statement, values })).rows as T;
    } catch (error) {
      // Not inside a transaction: the error has aborted it, and the caller retries the whole of it or not.
      if (!statement.name || !isStalePlan(error) || em.isInTransaction()) throw error;
      // Prepared again from the current table (the server may have dropped it already).
      await client.query({ text: `deallocate "${statement.name}"`, values: [] }).catch(() => undefined);
      delete client.connection.parsedStatements[statement.name];
      return (await client.query({ ...statement, values })).rows as T;
    }
  } finally {
    await knex.client.releaseConnection(client);
  }
}

/**
 * Entities of an organisation by id, read with one prepared statement and mapped by the ORM
 * (managed, as a find would return them): for the per-request loaders.
 */
export async function entitiesById<T extends object>(em: EntityManager, entity: new () => T, organisationId: string, ids: readonly string[]): Promise<T[]> {
  const { tableName } = em.getMetadata().get(entity.name);
  const rows = await preparedRows(em, `select * from "${tableName}" where organisation_id = ? and id = any(?::uuid[])`, [organisationId, uuidArray(ids)]);
  return rows.map((row) => em.map(entity, row));
}

/** Rows of an entity's table by id, as detached instances (see `detachedEntity`): no EntityManager keeps them. */
export async function detachedById<T extends object>(em: EntityManager, entity: new () => T, organisationId: string, ids: readonly string[]): Promise<T[]> {
  if (ids.length === 0) return [];
  const { tableName } = em.getMetadata().get(entity.name);
  const rows = await preparedRows(em, `select ${selectColumns(em, entity, 't')} from "${tableName}" t where t.organisation_id = ? and t.id = any(?::uuid[])`, [organisationId, uuidArray(ids)]);
  return rows.map((row) => detachedEntity(em, entity, row));
}

const readers = new WeakMap<object, EntityManager>();

/**
 * An EntityManager for plain statements (preparedRows) on the pool, shared by every request:
 * reads that map no entities need no per-request fork. Never in a transaction, and never used
 * to load or map entities (its identity map would only grow).
 */
export function plainReader(em: EntityManager): EntityManager {
  const root = em.getConnection();
  let reader = readers.get(root);
  if (!reader) readers.set(root, (reader = em.fork({ useContext: false, clear: true })));
  return reader;
}
