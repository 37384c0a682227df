// First: tracing (when configured) instruments what is loaded after it.
import { tracing } from './telemetry/start';
import { loadConfig, ConfigError } from './config';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded';
import { EmbeddedPostgresUnavailable } from './db/embedded-staging';
import { createLogger, startServer, type RunningServer } from './server';
import { DEMO_SLUG, DEMO_USERS, seedDemo } from './db/seed';
import { demoTokenSecret } from './auth/secret';
import { signToken } from './auth/tokens';
import path from 'node:path';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config);
  let embedded: EmbeddedDatabase | undefined;
  let server: RunningServer | undefined;
  let stopping = false;

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    try {
      await server?.close();
      await embedded?.stop();
      await tracing?.shutdown().catch(() => undefined);
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const dataDir = path.join(config.dataDir, 'postgres');
      logger.info({ dataDir }, 'no DATABASE_URL: starting embedded PostgreSQL');
      embedded = await startEmbeddedPostgres(dataDir);
      if (embedded.note) logger.info({ dataDir, note: embedded.note }, 'embedded PostgreSQL staged');
      databaseUrl = embedded.url;
    }
    server = await startServer(config, databaseUrl, logger);
    logger.info({ url: server.url }, 'listening');
    if (config.seedDemo) {
      if (await seedDemo(server.deps)) logger.info('seeded the demo organisation');
      await printDemoTokens(config, server.url);
    }
  } catch (error) {
    // One line saying what to do, not a stack.
    if (error instanceof EmbeddedPostgresUnavailable) console.error(error.message);
    else logger.fatal({ err: error }, 'failed to start');
    await server?.close().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    process.exit(1);
  }
}

async function printDemoTokens(config: ReturnType<typeof loadConfig>, url: string): Promise<void> {
  const secret = demoTokenSecret(config);
  if (!secret) {
    process.stdout.write(`\nApollo Sandbox: ${url}\nAUTH_JWT_SECRET is set: make tokens with \`npm run token\` (demo tokens are printed only with the development secret).\n`);
    return;
  }
  const lines = [`\nApollo Sandbox: ${url}`, `Demo tokens (organisation "${DEMO_SLUG}", valid 12 hours; send as "Authorization: Bearer <token>"):`];
  for (const user of DEMO_USERS) {
    const token = await signToken(secret, { role: user.role, sub: user.sub, org: user.role === 'operator' ? undefined : DEMO_SLUG });
    lines.push(`\n  ${user.label} [${user.role} ${user.sub}]\n  ${token}`);
  }
  lines.push(
    `\nTry: curl -s ${url} -H 'content-type: application/json' -H "authorization: Bearer <token>" \\\n       -d '{"query":"{ channels { edges { node { id kind patient { name } } } } }"}'\n`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
});
