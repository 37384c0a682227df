import { randomUUID } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { openDatabase } from '../src/db/orm';
import { preparedRows } from '../src/db/prepared';
import { countStatements } from '../src/db/statement-count';

/** Read statements run as named prepared statements on the ORM's pool (one connection here, so every run reuses it). */
let orm: MikroORM;
const table = `prepared_probe_${randomUUID().slice(0, 8)}`;
beforeAll(async () => {
  orm = await openDatabase({ databaseUrl: process.env.DATABASE_URL!, poolMax: 1 });
  await orm.em.fork().execute(`create table ${table} (id int primary key, label text)`);
  await orm.em.fork().execute(`insert into ${table} values (1, 'one'), (2, 'two')`);
});
afterAll(async () => {
  await orm.em.fork().execute(`drop table if exists ${table}`);
  await orm.close(true);
});

it('binds parameters, prepares once per connection and is counted as a statement', async () => {
  const em = orm.em.fork();
  const read = () => preparedRows<Array<{ id: number; label: string }>>(em, `select * from ${table} where id = ? or label = ? order by id`, [1, 'two']);
  expect(await read()).toEqual([{ id: 1, label: 'one' }, { id: 2, label: 'two' }]);
  expect(await countStatements(orm, read)).toBe(1);
  const prepared = await em.execute<Array<{ n: string }>>(`select count(*) as n from pg_prepared_statements where statement like 'select * from ${table}%'`);
  // pg_prepared_statements shows this session's statements: the ORM's connection is the only one.
  expect(Number(prepared[0].n)).toBe(1);
});

it('answers again after a migration changes the table under a prepared select *', async () => {
  const em = orm.em.fork();
  const read = () => preparedRows(em, `select * from ${table} where id = ?`, [1]);
  expect(await read()).toEqual([{ id: 1, label: 'one' }]);
  await em.execute(`alter table ${table} add column note text default 'added'`);
  expect(await read()).toEqual([{ id: 1, label: 'one', note: 'added' }]);
});

it('runs on the transaction connection inside a transaction (it sees what the transaction wrote)', async () => {
  await orm.em.fork().transactional(async (trx) => {
    await trx.execute(`insert into ${table} (id, label) values (3, 'three')`);
    expect(await preparedRows(trx, `select label from ${table} where id = ?`, [3])).toEqual([{ label: 'three' }]);
  });
});

it('denied: a statement on a transaction that has ended (its connection is back in the pool) fails instead of running elsewhere', async () => {
  let finished: EntityManager | undefined;
  await orm.em.fork().transactional(async (trx) => {
    finished = trx;
  });
  await expect(preparedRows(finished!, `select 1 as one from ${table} limit ?`, [1])).rejects.toThrow('already ended');
});
