import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { loadConfig } from '../src/config';
import { startServer, type RunningServer } from '../src/server';
import { startEmbeddedPostgres } from '../src/db/embedded';
import { signToken, type TokenRequest } from '../src/auth/tokens';
import { LIMITED_ACTIONS } from '../src/modules/rate-limits/rate-limit-config';

export const BENCH_SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789';

/** A fresh database: a new one on DATABASE_URL's server, or an embedded PostgreSQL in a temporary folder. */
export async function benchDatabase(): Promise<{ url: string; stop(): Promise<void> }> {
  if (process.env.DATABASE_URL) {
    const url = new URL(process.env.DATABASE_URL);
    const name = `care_messaging_bench_${Date.now()}`;
    const admin = new PgClient({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      stop: async () => {
        const again = new PgClient({ connectionString: process.env.DATABASE_URL });
        await again.connect();
        await again.query(`drop database if exists ${name} with (force)`);
        await again.end();
      },
    };
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'care-messaging-bench-'));
  await fs.chmod(dir, 0o755);
  const embedded = await startEmbeddedPostgres(path.join(dir, 'pg'), { database: 'bench' });
  return {
    url: embedded.url,
    stop: async () => {
      await embedded.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

const UNREACHED_LIMITS = JSON.stringify(
  Object.fromEntries(LIMITED_ACTIONS.map((action) => [action, { person: '1000000000/60', organisation: '1000000000/60', address: '1000000000/60' }])),
);

export function benchEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  // No notification worker unless a bench asks for one: its polling would count among a read's statements.
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    AUTH_JWT_SECRET: BENCH_SECRET,
    SEED_DEMO: 'false',
    LOG_LEVEL: 'silent',
    EVENT_BUS: 'in-process',
    NOTIFICATION_WORKER: 'false',
    // The limits are counted (their cost is part of what is measured) but never reached by the load.
    RATE_LIMITS: UNREACHED_LIMITS,
    ...extra,
  };
}

export async function startBenchServer(databaseUrl: string, extra: Record<string, string> = {}): Promise<RunningServer> {
  return startServer(loadConfig(benchEnvironment(extra)), databaseUrl);
}

export const token = (request: TokenRequest) => signToken(BENCH_SECRET, { ttlSeconds: 3600 * 6, ...request });

/** POSTs a GraphQL operation and returns `data`, failing loudly on errors. */
export async function graphql<T = Record<string, any>>(url: string, bearer: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(`GraphQL failed: ${JSON.stringify(body.errors)}`);
  return body.data;
}

export interface BenchOrganisation {
  id: string;
  slug: string;
  service: string;
}

export async function createBenchOrganisation(url: string): Promise<BenchOrganisation> {
  const slug = `bench-${randomUUID().slice(0, 8)}`;
  const operator = await token({ role: 'operator', sub: 'bench' });
  const data = await graphql(url, operator, 'mutation($i: OrganisationCreateInput!) { organisationCreate(input: $i) { organisation { id } } }', { i: { slug, name: 'Bench clinic' } });
  return { id: data.organisationCreate.organisation.id, slug, service: await token({ role: 'service', org: slug, sub: 'bench-sync' }) };
}

export async function addStaff(url: string, org: BenchOrganisation, name: string): Promise<{ id: string; token: string }> {
  const externalId = `staff-${randomUUID()}`;
  const data = await graphql(url, org.service, 'mutation($i: TeamMemberUpsertInput!) { teamMemberUpsert(input: $i) { teamMember { id } } }', {
    i: { externalId, name, email: `${externalId}@bench.example`, roles: ['Clinician'] },
  });
  return { id: data.teamMemberUpsert.teamMember.id, token: await token({ role: 'staff', org: org.slug, sub: externalId }) };
}

export async function addPatient(url: string, org: BenchOrganisation, name: string): Promise<{ id: string; token: string }> {
  const externalId = `patient-${randomUUID()}`;
  const data = await graphql(url, org.service, 'mutation($i: PatientUpsertInput!) { patientUpsert(input: $i) { patient { id } } }', { i: { externalId, name, email: `${externalId}@patients.example` } });
  return { id: data.patientUpsert.patient.id, token: await token({ role: 'patient', org: org.slug, sub: externalId }) };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const intFromEnv = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};

/** Resident memory of a process, in bytes (Linux). */
/** A process's CPU time so far (user + system), in milliseconds, from /proc. */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name (which may hold spaces, inside parentheses): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** USER_HZ: Linux reports process times in hundredths of a second. */
const CLOCK_TICKS = 100;

export async function residentBytes(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!match) throw new Error('no VmRSS');
  return Number(match[1]) * 1024;
}

/** Runs a Node script as a child process and resolves with the first stdout line matching `ready`. */
export async function spawnNode(script: string, env: Record<string, string>, ready: (line: string) => string | undefined): Promise<{ child: ChildProcess; value: string }> {
  const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! });
  const value = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
    lines.on('line', (line) => {
      const found = ready(line);
      if (found) resolve(found);
    });
  });
  return { child, value };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
