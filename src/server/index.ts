import { Metrics } from '../telemetry/metrics';
import { serveMetrics } from '../telemetry/metrics-endpoint';
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import pino, { type DestinationStream, type Logger } from 'pino';
import { loggedError } from '../common/log-redaction';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config';
import { openDatabase } from '../db/orm';
import { runMigrations } from '../db/migrate';
import { createTokenVerifier } from '../auth/tokens';
import { Authenticator } from '../auth/authenticate';
import { IdentityCache } from '../auth/identity-cache';
import { resolveJwtSecret } from '../auth/secret';
import { createCursorCodec } from '../common/cursor';
import { LocalFileStore } from '../modules/attachments/file-store';
import { S3FileStore } from '../modules/attachments/s3-file-store';
import { scheduleAttachmentSweep } from '../modules/attachments/attachment-sweeper';
import { ClinicRelay } from '../modules/clinics/clinic-relay';
import { Escalator } from '../modules/escalation/escalator';
import { WebhookDispatcher } from '../modules/webhooks/webhook-dispatcher';
import { SecretBox } from '../modules/webhooks/webhook-secrets';
import { NotificationWorker } from '../modules/notifications/worker';
import { createEventBus, type EventBus } from '../realtime/bus';
import { LiveHub } from '../realtime/live-hub';
import { scheduleRetention } from '../realtime/retention';
import { buildExecutableSchema } from '../graphql/schema';
import type { AppDeps } from '../graphql/context';
import { createHttpApp } from './http';
import { AuditLog } from '../modules/audit/audit-log';
import { SettingsCache } from '../modules/settings/settings-cache';
import { attachWebSocketServer } from './ws';
import { TrustedDocuments } from './trusted-documents';
import { RateLimits, type RateLimitStore } from '../modules/rate-limits/rate-limits';
import { Redis } from 'ioredis';

export interface RunningServer {
  url: string;
  wsUrl: string;
  /** Where Prometheus scrapes this process when METRICS_PORT is set. */
  metricsUrl?: string;
  orm: MikroORM;
  deps: AppDeps;
  close(): Promise<void>;
}

/** The process's logger: errors logged through it never carry SQL parameters or quoted values (log-redaction.ts). */
export function createLogger(config: Config, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', '*.authorization', '*.body', 'body'], censor: '[redacted]' },
    serializers: { err: loggedError, error: loggedError },
  };
  return destination ? pino(options, destination) : pino(options);
}

function rateLimitStore(config: Config, orm: MikroORM): RateLimitStore {
  switch (config.rateLimits.store) {
    case 'postgres':
      return { kind: 'postgres', knex: orm.em.getConnection().getKnex() };
    case 'redis':
      return { kind: 'redis', client: new Redis(config.eventBus.redisUrl!, { connectionName: 'care-messaging-rate-limits', maxRetriesPerRequest: 1, enableOfflineQueue: false }) };
    case 'memory':
      return { kind: 'memory' };
  }
}

/** Connects to the database, applies migrations and serves HTTP and WebSocket on one port. */
export async function startServer(config: Config, databaseUrl: string, logger = createLogger(config), givenBus?: EventBus, options: { clock?: () => Date } = {}): Promise<RunningServer> {
  // Read before anything is opened: a bad manifest stops the start with nothing to close.
  const trusted = config.trustedDocuments ? TrustedDocuments.load(config.trustedDocuments) : undefined;
  if (trusted) logger.info({ operations: trusted.size }, 'trusted documents: only these operations run');
  const applied = await runMigrations(databaseUrl);
  const orm = await openDatabase({ databaseUrl, logger });
  const bus = givenBus ?? (await createEventBus(config, databaseUrl, logger));
  const metrics = new Metrics(orm);
  const live = new LiveHub({
    orm,
    bus,
    logger,
    feedBufferSize: config.live.feedBuffer,
    feedFetchSize: 500,
    feedMemoryBytes: config.live.feedMemoryBytes,
    pollMs: config.live.pollMs,
    sweepMs: Math.max(1_000, config.live.revalidateMs),
    onLiveDelivery: (seconds) => metrics.eventLag.observe(seconds),
  });
  const stopRetention = scheduleRetention(orm, config.live.retentionDays, logger);
  if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
  logger.info({ eventBus: bus.name }, 'event bus ready');

  const secret = resolveJwtSecret(config);
  const verifier = createTokenVerifier({
    secret,
    jwksUrl: config.auth.jwksUrl,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    maxTokenAgeSeconds: config.auth.maxTokenAgeSeconds,
    clockToleranceSeconds: config.auth.clockToleranceSeconds,
  });
  const cursorSecret = config.cursorSecret ?? secret;
  if (!cursorSecret) throw new Error('CURSOR_SECRET is required when tokens are verified with JWKS');
  const auditLog = new AuditLog(orm, logger);
  const files = config.files.s3 ? new S3FileStore(config.files.s3) : new LocalFileStore(config.files.dir);
  const clinicRelay = new ClinicRelay(orm, bus, files, logger, { pollMs: config.clinics.relayPollMs });
  const webhookDispatcher = new WebhookDispatcher(orm, config.webhooks, cursorSecret, logger, bus, metrics);
  const clock = options.clock ?? (() => new Date());
  const escalator = new Escalator(orm, bus, logger, { pollMs: config.escalation.pollMs, clock });
  const deps: AppDeps = {
    config,
    orm,
    bus,
    live,
    cursors: createCursorCodec(cursorSecret),
    files,
    logger,
    auditLog,
    settingsCache: new SettingsCache(config.auth.cacheTtlMs),
    rateLimits: new RateLimits(config.rateLimits.table, rateLimitStore(config, orm), logger, (action) => metrics.rateLimitRefusals.inc({ action })),
    clinicRelay,
    metrics,
    webhookSecrets: new SecretBox(cursorSecret),
    webhookDispatcher,
    clock,
  };
  clinicRelay.start();
  if (config.webhooks.dispatch) webhookDispatcher.start();
  escalator.start();
  const stopAttachmentSweep = scheduleAttachmentSweep(orm, deps.files, logger, config.files.withdrawnChartRetentionDays);
  const notifications = config.notifications.worker ? new NotificationWorker(orm, config.notifications, logger, undefined, metrics) : undefined;
  notifications?.start();

  const schema = buildExecutableSchema((error, context) => context.logger.error({ err: error }, 'resolver failed'));
  const readiness = async () => {
    await orm.em.fork().execute('select 1');
    return (await orm.getMigrator().getPendingMigrations()).length === 0;
  };
  const identities = new IdentityCache(config.auth.cacheTtlMs);
  // Archived people and changed permissions leave the cache at once, in every process.
  const stopIdentityNotices = bus.subscribe((notice) => {
    if (notice.kind === 'revoke' || notice.kind === 'identity') identities.invalidate(notice);
    else if (notice.kind === 'settings') deps.settingsCache.invalidate(notice.organisationId);
    else if (notice.kind === 'resync') {
      identities.clear();
      deps.settingsCache.clear();
    }
  });
  const authenticator = new Authenticator(orm, verifier, identities);
  const { handle, apollo } = await createHttpApp(deps, schema, authenticator, readiness, trusted);
  const server = config.tls
    ? https.createServer({ cert: fs.readFileSync(config.tls.certFile), key: fs.readFileSync(config.tls.keyFile) }, handle)
    : http.createServer(handle);
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  const ws = attachWebSocketServer(server, deps, schema, authenticator, trusted);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const metricsServer = await serveMetrics(metrics, config.metrics);
  if (metricsServer) logger.info({ url: metricsServer.url }, 'metrics served');
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const scheme = config.tls ? 'https' : 'http';
  let closing: Promise<void> | undefined;
  return {
    url: `${scheme}://${host}:${port}/graphql`,
    wsUrl: `${config.tls ? 'wss' : 'ws'}://${host}:${port}/graphql`,
    metricsUrl: metricsServer?.url,
    orm,
    deps,
    close() {
      closing ??= (async () => {
        await ws.close();
        await metricsServer?.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await apollo.stop();
        // Requests have ended: what they recorded is written before the pool closes.
        await auditLog.close();
        stopRetention();
        stopAttachmentSweep();
        await clinicRelay.stop();
        await webhookDispatcher.stop();
        await escalator.stop();
        await notifications?.stop();
        stopIdentityNotices();
        live.close();
        await deps.rateLimits.close();
        await bus.close();
        await orm.close(true);
      })();
      return closing;
    },
  };
}
