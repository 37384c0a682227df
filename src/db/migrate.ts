import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { migrationsList } from '../../migrations';

const MIGRATION_LOCK = 'care-messaging-migrations';

/** How committed migrations run: in order, each in a transaction, all or nothing. */
export const migrationsConfig = {
  migrationsList,
  transactional: true,
  allOrNothing: true,
  disableForeignKeys: false,
  snapshot: false,
  silent: true,
};

/**
 * Applies every committed migration that has not run yet and returns their names. Uses its own
 * short-lived connection with no entities, so it needs no decorator metadata.
 */
export async function runMigrations(databaseUrl: string): Promise<string[]> {
  const orm = await MikroORM.init({
    clientUrl: databaseUrl,
    entities: [],
    discovery: { warnWhenNoEntities: false },
    extensions: [Migrator],
    migrations: migrationsConfig,
    pool: { min: 0, max: 1 },
  });
  // Processes started together (replicas, the worker) take turns: the first applies, the others find them applied.
  const connection = orm.em.getConnection();
  await connection.execute('select pg_advisory_lock(hashtext(?))', [MIGRATION_LOCK]);
  try {
    const applied = await orm.getMigrator().up();
    return applied.map((migration) => migration.name);
  } finally {
    await connection.execute('select pg_advisory_unlock(hashtext(?))', [MIGRATION_LOCK]).catch(() => undefined);
    await orm.close(true);
  }
}
