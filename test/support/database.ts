import { randomUUID } from 'node:crypto';
import { Client } from 'pg';

export interface OwnDatabase {
  url: string;
  /** Drops the database (close every server using it first). */
  drop(): Promise<void>;
}

/**
 * A new, empty database on the run's PostgreSQL server, for a test file whose data cannot share
 * the run's database: the demo organisation has a fixed slug, so only one file may seed it per
 * database. A server started on it applies the migrations itself.
 */
export async function createOwnDatabase(label: string): Promise<OwnDatabase> {
  const shared = process.env.DATABASE_URL;
  if (!shared) throw new Error('DATABASE_URL is set by the global setup');
  const name = `${decodeURIComponent(new URL(shared).pathname.slice(1))}_${label}_${randomUUID().slice(0, 8)}`.replace(/[^a-zA-Z0-9_]/g, '_');
  await asAdmin(shared, (admin) => admin.query(`create database "${name}"`));
  const url = new URL(shared);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => asAdmin(shared, (admin) => admin.query(`drop database if exists "${name}" with (force)`)).then(() => undefined),
  };
}

async function asAdmin<T>(databaseUrl: string, work: (admin: Client) => Promise<T>): Promise<T> {
  const url = new URL(databaseUrl);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}
