import type { MikroORM } from '@mikro-orm/postgresql';

/**
 * How many SQL statements the ORM's connection runs while `run` runs (and `counts` accepts): for
 * benches and tests that prove a request's cost does not grow with a list's size.
 */
export async function countStatements(orm: MikroORM, run: () => Promise<unknown>, counts: (sql: string) => boolean = () => true): Promise<number> {
  const knex = orm.em.getConnection().getKnex();
  let count = 0;
  const listener = (query: { sql: string }) => {
    if (counts(query.sql)) count += 1;
  };
  knex.on('query', listener);
  try {
    await run();
  } finally {
    knex.removeListener('query', listener);
  }
  return count;
}

/** Audit batches are written on their own schedule, for many requests at once: not one request's cost. */
export const notAuditBatch = (sql: string) => !sql.startsWith('insert into audit_event');
