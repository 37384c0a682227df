import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { environmentSchema, loadConfig } from '../src/config';

/**
 * compose.yaml and the Dockerfile checked against the server's own configuration (CI also runs
 * `docker compose config` where the compose plugin is installed): every service is there, every
 * variable is one the server reads and accepts, every port is the one it listens on.
 */
const root = path.join(__dirname, '..');
const compose = parse(fs.readFileSync(path.join(root, 'compose.yaml'), 'utf8'), { merge: true }) as {
  services: Record<string, { image?: string; build?: string; command?: string[]; ports?: string[]; environment?: Record<string, string>; depends_on?: Record<string, unknown> }>;
};
const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
const APP_SERVICES = ['api-1', 'api-2', 'worker'];

/** `${NAME:?message}` and `${NAME:-default}` as compose fills them, with a secret given for the required ones. */
const interpolated = (value: string) =>
  String(value)
    .replace(/\$\{(\w+):\?[^}]*\}/g, (_match, name: string) => (name === 'AUTH_JWT_SECRET' ? 'a-deployment-secret-that-is-long-enough-0123' : `required${name.toLowerCase()}`))
    .replace(/\$\{(\w+):-([^}]*)\}/g, (_match, _name: string, fallback: string) => fallback);
const environmentOf = (service: string) => Object.fromEntries(Object.entries(compose.services[service].environment ?? {}).map(([key, value]) => [key, interpolated(value)]));

it('compose runs PostgreSQL 15, Redis, two API replicas and a notification worker from this image', () => {
  expect(Object.keys(compose.services).sort()).toEqual(['api-1', 'api-2', 'postgres', 'redis', 'worker']);
  expect(compose.services.postgres.image).toBe('postgres:15');
  expect(compose.services.redis.image).toMatch(/^redis:/);
  for (const service of APP_SERVICES) {
    expect(compose.services[service].build).toBe('.');
    expect(Object.keys(compose.services[service].depends_on ?? {}).sort()).toEqual(['postgres', 'redis']);
  }
  expect(compose.services.worker.command).toEqual(['node', 'dist/src/worker.js']);
  expect(fs.existsSync(path.join(root, 'src', 'worker.ts'))).toBe(true);
});

it('every variable of every app service is one the server reads, and the server accepts them all', () => {
  const known = new Set(Object.keys(environmentSchema.shape));
  for (const service of APP_SERVICES) {
    const env = environmentOf(service);
    expect(Object.keys(env).filter((name) => !known.has(name))).toEqual([]);
    const config = loadConfig(env);
    expect(config.env).toBe('production');
    expect(config.databaseUrl).toBe('postgres://care:requiredpostgres_password@postgres:5432/care_messaging');
    // Replicas share events, limits and files.
    expect(env).toMatchObject({ EVENT_BUS: 'redis', RATE_LIMIT_STORE: 'redis', REDIS_URL: 'redis://redis:6379', FILES_DIR: '/data/files' });
    expect(config.notifications.worker).toBe(service === 'worker');
  }
  const database = Object.fromEntries(Object.entries(compose.services.postgres.environment!).map(([key, value]) => [key, interpolated(value)]));
  expect(`postgres://${database.POSTGRES_USER}:${database.POSTGRES_PASSWORD}@postgres:5432/${database.POSTGRES_DB}`).toBe(environmentOf('api-1').DATABASE_URL);
});

it('every published port is one the server listens on, and no host port is taken twice', () => {
  const hostPorts: string[] = [];
  for (const service of APP_SERVICES) {
    const imageEnv = Object.fromEntries([...dockerfile.matchAll(/^\s+(\w+)=(\S+)/gm)].map((match) => [match[1], match[2]]));
    const config = loadConfig({ ...imageEnv, ...environmentOf(service) });
    const listens = new Set([config.port, config.metrics.port]);
    for (const mapping of compose.services[service].ports ?? []) {
      const parts = mapping.split(':');
      const [host, container] = parts.slice(-2);
      expect(listens.has(Number(container))).toBe(true);
      // Metrics need no token: only this host's loopback reaches them.
      if (Number(container) === config.metrics.port) expect(parts[0]).toBe('127.0.0.1');
      hostPorts.push(host);
    }
  }
  expect(new Set(hostPorts).size).toBe(hostPorts.length);
});

it('the image is built in stages and runs as the unprivileged node user on Node 20', () => {
  expect(dockerfile.match(/^FROM node:20-[\w-]*slim/gm)).toHaveLength(2);
  expect(dockerfile).toMatch(/^USER node$/m);
  expect(dockerfile).toMatch(/^EXPOSE 4000 9464$/m);
  expect(dockerfile).toMatch(/^CMD \["node", "dist\/src\/main.js"\]$/m);
});
