import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { migrationsList } from '../../migrations';

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
  try {
    const applied = await orm.getMigrator().up();
    return applied.map((migration) => migration.name);
  } finally {
    await orm.close(true);
  }
}
