import ipaddr from 'ipaddr.js';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_MAX_PENDING_UPLOADS, parseRateLimits, type RateLimitTable } from './modules/rate-limits/rate-limit-config';

const booleanFromEnv = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

/** Every environment variable the server reads, parsed and validated in one place. */
export const environmentSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  DATABASE_URL: optionalText.pipe(z.string().url().optional()),
  DATA_DIR: z.string().default('.data'),
  AUTH_JWT_SECRET: optionalText.pipe(z.string().min(32, 'AUTH_JWT_SECRET must be at least 32 characters').optional()),
  AUTH_JWKS_URL: optionalText.pipe(z.string().url().optional()),
  AUTH_ISSUER: optionalText,
  AUTH_AUDIENCE: optionalText,
  AUTH_MAX_TOKEN_AGE_SECONDS: z.coerce.number().int().positive().default(86_400),
  AUTH_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(600).default(60),
  AUTH_CACHE_TTL_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  CURSOR_SECRET: optionalText.pipe(z.string().min(32).optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  SANDBOX: booleanFromEnv.optional(),
  ALLOWED_ORIGINS: optionalText,
  TLS_CERT: optionalText,
  TLS_KEY: optionalText,
  BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(262_144),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().positive().default(10),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().nonnegative().default(15),
  GRAPHQL_MAX_COST: z.coerce.number().int().positive().default(10000),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().positive().default(5000),
  GRAPHQL_MAX_QUERY_CHARS: z.coerce.number().int().positive().default(100_000),
  GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().nonnegative().default(50),
  MESSAGE_BODY_MAX_CHARS: z.coerce.number().int().positive().default(20_000),
  SEED_DEMO: booleanFromEnv.optional(),
  EVENT_BUS: z.enum(['in-process', 'postgres', 'redis']).optional(),
  REDIS_URL: optionalText.pipe(z.string().url().optional()),
  TRUSTED_DOCUMENTS: optionalText,
  RATE_LIMITS: optionalText,
  RATE_LIMIT_STORE: z.enum(['memory', 'postgres', 'redis']).optional(),
  UPLOAD_MAX_PENDING: z.coerce.number().int().positive().default(DEFAULT_MAX_PENDING_UPLOADS),
  WS_MAX_CONNECTIONS_PER_PERSON: z.coerce.number().int().positive().default(20),
  EVENT_RETENTION_DAYS: z.coerce.number().positive().default(30),
  LIVE_REVALIDATE_MS: z.coerce.number().int().positive().default(60_000),
  LIVE_FEED_BUFFER: z.coerce.number().int().positive().default(2_000),
  LIVE_FEED_MEMORY_MB: z.coerce.number().positive().default(64),
  LIVE_POLL_MS: z.coerce.number().int().positive().default(5_000),
  WS_MAX_SUBSCRIPTIONS: z.coerce.number().int().positive().default(100),
  WS_MAX_BUFFERED_BYTES: z.coerce.number().int().positive().default(4 * 1024 * 1024),
  WS_SEND_STALL_MS: z.coerce.number().int().positive().default(15_000),
  WS_KEEPALIVE_MS: z.coerce.number().int().positive().default(12_000),
  TYPING_INTERVAL_MS: z.coerce.number().int().positive().default(2_000),
  FILES_DIR: optionalText,
  ATTACHMENT_MAX_BYTES: z.coerce.number().int().positive().default(25 * 1024 * 1024),
  FILE_URL_TTL_SECONDS: z.coerce.number().int().positive().max(3600).default(300),
  CLINIC_RELAY_POLL_MS: z.coerce.number().int().min(50).max(600_000).default(1_000),
  ESCALATION_POLL_MS: z.coerce.number().int().min(20).max(600_000).default(30_000),
  WEBHOOK_DISPATCH: booleanFromEnv.default('true'),
  WEBHOOK_POLL_MS: z.coerce.number().int().min(20).max(600_000).default(1_000),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  WEBHOOK_MAX_RESPONSE_BYTES: z.coerce.number().int().min(0).max(10 * 1024 * 1024).default(64 * 1024),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(10_000),
  WEBHOOK_DISABLE_AFTER_FAILURES: z.coerce.number().int().min(1).max(100_000).default(20),
  WEBHOOK_DISABLE_AFTER_HOURS: z.coerce.number().min(0).max(24 * 365).default(72),
  WEBHOOK_ALLOWED_NETWORKS: z
    .string()
    .default('')
    .refine((list) => list.split(',').every((entry) => !entry.trim() || ipaddr.isValidCIDR(entry.trim()) || ipaddr.isValid(entry.trim())), 'WEBHOOK_ALLOWED_NETWORKS lists addresses or CIDR networks, comma-separated'),
  WEBHOOK_KEEP_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  METRICS_HOST: z.string().default('127.0.0.1'),
  METRICS_TOKEN: optionalText.pipe(z.string().min(16, 'METRICS_TOKEN must be at least 16 characters').optional()),
  CHART_WITHDRAWN_FILE_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  PUBLIC_URL: optionalText.pipe(z.string().url().optional()),
  FILE_STORE: z.enum(['local', 's3']).default('local'),
  S3_BUCKET: optionalText,
  S3_REGION: z.string().default('us-east-1'),
  S3_ENDPOINT: optionalText.pipe(z.string().url().optional()),
  S3_ACCESS_KEY_ID: optionalText,
  S3_SECRET_ACCESS_KEY: optionalText,
  S3_FORCE_PATH_STYLE: booleanFromEnv.optional(),
  SMTP_URL: optionalText.pipe(z.string().url().optional()),
  MAIL_FROM: z.string().default('Care messaging <no-reply@localhost>'),
  MAIL_DIR: optionalText,
  PATIENT_PORTAL_URL: z.string().url().default('http://localhost:3000'),
  STAFF_PORTAL_URL: z.string().url().default('http://localhost:3001'),
  VAPID_PUBLIC_KEY: optionalText,
  VAPID_PRIVATE_KEY: optionalText,
  VAPID_SUBJECT: optionalText,
  WEB_PUSH_HOSTS: z.string().default('fcm.googleapis.com,.push.services.mozilla.com,.notify.windows.com,web.push.apple.com'),
  MOBILE_PUSH_URL: optionalText.pipe(z.string().url().optional()),
  MOBILE_PUSH_TOKEN: optionalText,
  SMS_URL: optionalText.pipe(z.string().url().optional()),
  SMS_USERNAME: optionalText,
  SMS_PASSWORD: optionalText,
  SMS_FROM: optionalText,
  NOTIFICATION_WORKER: booleanFromEnv.optional(),
  NOTIFICATION_POLL_MS: z.coerce.number().int().positive().default(1_000),
  NOTIFICATION_RETRY_MS: z.coerce.number().int().positive().default(30_000),
  NOTIFICATION_MAX_ATTEMPTS: z.coerce.number().int().positive().default(12),
});

export type Environment = z.infer<typeof environmentSchema>;

export interface Config {
  env: Environment['NODE_ENV'];
  host: string;
  port: number;
  /** Absent: an embedded PostgreSQL is started under `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  /** `cacheTtlMs`: how long a verified identity is reused (0: looked up on every request). */
  auth: { jwtSecret?: string; jwksUrl?: string; issuer?: string; audience?: string; cacheTtlMs: number; maxTokenAgeSeconds: number; clockToleranceSeconds: number };
  /** Key material for opaque cursors; derived from the JWT secret when not given. */
  cursorSecret?: string;
  logLevel: NonNullable<Environment['LOG_LEVEL']>;
  /** Apollo Sandbox and introspection. */
  sandbox: boolean;
  /** WebSocket and CORS origin allow-list; undefined means any origin (development). */
  allowedOrigins?: string[];
  tls?: { certFile: string; keyFile: string };
  limits: { bodyBytes: number; maxDepth: number; maxAliases: number; maxCost: number; maxTokens: number; maxQueryChars: number; maxDirectives: number; messageBodyChars: number };
  seedDemo: boolean;
  files: {
    /** Local file store (the default store). */
    dir: string;
    maxBytes: number;
    /** Lifetime of upload and download URLs. */
    urlTtlSeconds: number;
    /** How long a withdrawn chart document's file stays downloadable in messages already sent (0: removed at withdrawal). */
    withdrawnChartRetentionDays: number;
    /** Base of the URLs handed out; absent: paths relative to this server. */
    publicUrl?: string;
    /** An S3-compatible bucket instead of the local folder. */
    s3?: { bucket: string; region: string; endpoint?: string; accessKeyId?: string; secretAccessKey?: string; forcePathStyle: boolean };
  };
  eventBus: { kind: 'in-process' | 'postgres' | 'redis'; redisUrl?: string };
  /** Conversations between clinics: how often each process looks for envelopes to relay (besides right after a send). */
  clinics: { relayPollMs: number };
  /** How often each process looks for patient messages past their response target. */
  escalation: { pollMs: number };
  /**
   * Webhooks: whether this process delivers (any number may), how often it looks besides being
   * kicked by new events, the limits of one attempt, retries (base delay, multiplied by 4 each
   * time, capped at 6 hours) until a delivery is dead, when a failing endpoint is turned off (this
   * many failures in a row, failing for at least this long), the networks allowed although not
   * public, and how long finished deliveries are kept. https only in production.
   */
  webhooks: {
    dispatch: boolean;
    pollMs: number;
    timeoutMs: number;
    maxResponseBytes: number;
    maxAttempts: number;
    retryBaseMs: number;
    disableAfterFailures: number;
    disableAfterMs: number;
    httpsOnly: boolean;
    allowedNetworks: string;
    keepDays: number;
  };
  /**
   * Prometheus metrics: on a port of their own (`port`, on `host`), and/or at `/metrics` of the API
   * port for a bearer of `token`; neither: not served.
   */
  metrics: { port?: number; host: string; token?: string };
  /** A manifest of the only operations that run (trusted documents); undefined: any operation. */
  trustedDocuments?: string;
  /** Abuse limits (undefined: none), where they are counted, and the caps counted directly. */
  rateLimits: { table?: RateLimitTable; store: 'memory' | 'postgres' | 'redis'; maxPendingUploads: number; maxConnectionsPerPerson: number };
  notifications: {
    /** Run the notification worker in this process (it can also run alone: `npm run worker`). */
    worker: boolean;
    /** Absent: mail is written as .eml files under `mailDir`. */
    smtpUrl?: string;
    mailFrom: string;
    /** Mail files hold addresses: by default only outside production (there, without SMTP, no email is sent). */
    mailDir?: string;
    /** Where links in notices point (an organisation's settings may override them). */
    patientPortalUrl: string;
    staffPortalUrl: string;
    webPush?: { publicKey: string; privateKey: string; subject: string };
    /** Web Push endpoints are accepted only on these hosts (a leading dot: any subdomain). */
    webPushHosts: string[];
    mobilePush?: { url: string; token?: string };
    sms?: { url: string; username?: string; password?: string; from?: string };
    pollMs: number;
    /** First retry after this long, doubling up to an hour. */
    retryMs: number;
    maxAttempts: number;
  };
  live: {
    /** Event log retention; older resume cursors get CURSOR_EXPIRED. */
    retentionDays: number;
    /** How often a long-lived stream re-checks the caller's access in the database. */
    revalidateMs: number;
    /** Recent events each process keeps per organisation for caught-up subscribers, at most. */
    feedBuffer: number;
    /** Bytes all organisations' feeds may keep together in one process (the least recently active give way first). */
    feedMemoryBytes: number;
    /** How often feeds check the database for events whose bus notice was lost. */
    pollMs: number;
    maxSubscriptionsPerSocket: number;
    /** A socket with more unsent bytes than this, or unsent data for longer than the stall time, is closed (1013, retry). */
    maxBufferedBytes: number;
    sendStallMs: number;
    keepAliveMs: number;
    typingIntervalMs: number;
  };
}

export class ConfigError extends Error {}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = environmentSchema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  if (production && !e.AUTH_JWT_SECRET && !e.AUTH_JWKS_URL) {
    throw new ConfigError('Invalid configuration: production needs AUTH_JWT_SECRET or AUTH_JWKS_URL');
  }
  if (e.AUTH_JWKS_URL && !e.AUTH_JWT_SECRET && !e.CURSOR_SECRET) {
    throw new ConfigError('Invalid configuration: CURSOR_SECRET (32+ characters) is required when tokens are verified with AUTH_JWKS_URL');
  }
  if (production && e.AUTH_JWKS_URL && (!e.AUTH_ISSUER || !e.AUTH_AUDIENCE)) {
    throw new ConfigError('Invalid configuration: production with AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE');
  }
  if (e.RATE_LIMIT_STORE === 'redis' && !e.REDIS_URL) {
    throw new ConfigError('Invalid configuration: RATE_LIMIT_STORE=redis needs REDIS_URL');
  }
  if (e.EVENT_BUS === 'redis' && !e.REDIS_URL) {
    throw new ConfigError('Invalid configuration: EVENT_BUS=redis needs REDIS_URL');
  }
  if (e.FILE_STORE === 's3' && !e.S3_BUCKET) {
    throw new ConfigError('Invalid configuration: FILE_STORE=s3 needs S3_BUCKET');
  }
  if (Boolean(e.S3_ACCESS_KEY_ID) !== Boolean(e.S3_SECRET_ACCESS_KEY)) {
    throw new ConfigError('Invalid configuration: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together');
  }
  if (Boolean(e.VAPID_PUBLIC_KEY) !== Boolean(e.VAPID_PRIVATE_KEY) || (e.VAPID_PUBLIC_KEY && !e.VAPID_SUBJECT)) {
    throw new ConfigError('Invalid configuration: VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY and VAPID_SUBJECT go together');
  }
  if (production && [e.SMS_URL, e.MOBILE_PUSH_URL].some((url) => url && !url.startsWith('https://'))) {
    throw new ConfigError('Invalid configuration: in production SMS_URL and MOBILE_PUSH_URL must be https (credentials are sent to them)');
  }
  if (Boolean(e.SMS_USERNAME) !== Boolean(e.SMS_PASSWORD)) {
    throw new ConfigError('Invalid configuration: SMS_USERNAME and SMS_PASSWORD go together');
  }
  if (Boolean(e.TLS_CERT) !== Boolean(e.TLS_KEY)) {
    throw new ConfigError('Invalid configuration: TLS_CERT and TLS_KEY go together');
  }
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.DATA_DIR),
    auth: { jwtSecret: e.AUTH_JWT_SECRET, jwksUrl: e.AUTH_JWKS_URL, issuer: e.AUTH_ISSUER, audience: e.AUTH_AUDIENCE, cacheTtlMs: e.AUTH_CACHE_TTL_MS,
      maxTokenAgeSeconds: e.AUTH_MAX_TOKEN_AGE_SECONDS, clockToleranceSeconds: e.AUTH_CLOCK_TOLERANCE_SECONDS },
    cursorSecret: e.CURSOR_SECRET,
    logLevel: e.LOG_LEVEL ?? (e.NODE_ENV === 'test' ? 'silent' : 'info'),
    sandbox: e.SANDBOX ?? !production,
    allowedOrigins: e.ALLOWED_ORIGINS?.split(',').map((origin) => origin.trim()).filter(Boolean),
    tls: e.TLS_CERT && e.TLS_KEY ? { certFile: e.TLS_CERT, keyFile: e.TLS_KEY } : undefined,
    limits: {
      bodyBytes: e.BODY_LIMIT_BYTES,
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxCost: e.GRAPHQL_MAX_COST,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      maxQueryChars: e.GRAPHQL_MAX_QUERY_CHARS,
      maxDirectives: e.GRAPHQL_MAX_DIRECTIVES,
      messageBodyChars: e.MESSAGE_BODY_MAX_CHARS,
    },
    seedDemo: e.SEED_DEMO ?? !production,
    files: {
      dir: path.resolve(e.FILES_DIR ?? path.join(e.DATA_DIR, 'files')),
      maxBytes: e.ATTACHMENT_MAX_BYTES,
      urlTtlSeconds: e.FILE_URL_TTL_SECONDS,
      withdrawnChartRetentionDays: e.CHART_WITHDRAWN_FILE_RETENTION_DAYS,
      publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
      s3:
        e.FILE_STORE === 's3'
          ? {
              bucket: e.S3_BUCKET!,
              region: e.S3_REGION,
              endpoint: e.S3_ENDPOINT,
              accessKeyId: e.S3_ACCESS_KEY_ID,
              secretAccessKey: e.S3_SECRET_ACCESS_KEY,
              forcePathStyle: e.S3_FORCE_PATH_STYLE ?? Boolean(e.S3_ENDPOINT),
            }
          : undefined,
    },
    eventBus: { kind: e.EVENT_BUS ?? defaultEventBus(e), redisUrl: e.REDIS_URL },
    clinics: { relayPollMs: e.CLINIC_RELAY_POLL_MS },
    escalation: { pollMs: e.ESCALATION_POLL_MS },
    webhooks: {
      dispatch: e.WEBHOOK_DISPATCH,
      pollMs: e.WEBHOOK_POLL_MS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      maxResponseBytes: e.WEBHOOK_MAX_RESPONSE_BYTES,
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
      disableAfterFailures: e.WEBHOOK_DISABLE_AFTER_FAILURES,
      disableAfterMs: e.WEBHOOK_DISABLE_AFTER_HOURS * 3_600_000,
      httpsOnly: production,
      allowedNetworks: e.WEBHOOK_ALLOWED_NETWORKS,
      keepDays: e.WEBHOOK_KEEP_DAYS,
    },
    metrics: { port: e.METRICS_PORT, host: e.METRICS_HOST, token: e.METRICS_TOKEN },
    trustedDocuments: e.TRUSTED_DOCUMENTS ? path.resolve(e.TRUSTED_DOCUMENTS) : undefined,
    rateLimits: {
      table: rateLimitTable(e.RATE_LIMITS),
      store: e.RATE_LIMIT_STORE ?? { 'in-process': 'memory' as const, postgres: 'postgres' as const, redis: 'redis' as const }[e.EVENT_BUS ?? defaultEventBus(e)],
      maxPendingUploads: e.UPLOAD_MAX_PENDING,
      maxConnectionsPerPerson: e.WS_MAX_CONNECTIONS_PER_PERSON,
    },
    notifications: {
      worker: e.NOTIFICATION_WORKER ?? true,
      smtpUrl: e.SMTP_URL,
      mailFrom: e.MAIL_FROM,
      mailDir: e.MAIL_DIR ? path.resolve(e.MAIL_DIR) : production ? undefined : path.resolve(e.DATA_DIR, 'mail'),
      patientPortalUrl: e.PATIENT_PORTAL_URL.replace(/\/+$/, ''),
      staffPortalUrl: e.STAFF_PORTAL_URL.replace(/\/+$/, ''),
      webPush: e.VAPID_PUBLIC_KEY && e.VAPID_PRIVATE_KEY && e.VAPID_SUBJECT ? { publicKey: e.VAPID_PUBLIC_KEY, privateKey: e.VAPID_PRIVATE_KEY, subject: e.VAPID_SUBJECT } : undefined,
      webPushHosts: e.WEB_PUSH_HOSTS.split(',').map((host) => host.trim().toLowerCase()).filter(Boolean),
      mobilePush: e.MOBILE_PUSH_URL ? { url: e.MOBILE_PUSH_URL, token: e.MOBILE_PUSH_TOKEN } : undefined,
      sms: e.SMS_URL ? { url: e.SMS_URL, username: e.SMS_USERNAME, password: e.SMS_PASSWORD, from: e.SMS_FROM } : undefined,
      pollMs: e.NOTIFICATION_POLL_MS,
      retryMs: e.NOTIFICATION_RETRY_MS,
      maxAttempts: e.NOTIFICATION_MAX_ATTEMPTS,
    },
    live: {
      retentionDays: e.EVENT_RETENTION_DAYS,
      revalidateMs: e.LIVE_REVALIDATE_MS,
      feedBuffer: e.LIVE_FEED_BUFFER,
      feedMemoryBytes: Math.round(e.LIVE_FEED_MEMORY_MB * 1024 * 1024),
      pollMs: e.LIVE_POLL_MS,
      maxSubscriptionsPerSocket: e.WS_MAX_SUBSCRIPTIONS,
      maxBufferedBytes: e.WS_MAX_BUFFERED_BYTES,
      sendStallMs: e.WS_SEND_STALL_MS,
      keepAliveMs: e.WS_KEEPALIVE_MS,
      typingIntervalMs: e.TYPING_INTERVAL_MS,
    },
  };
}

/**
 * Redis when it is configured; PostgreSQL LISTEN/NOTIFY when the database is a shared one that
 * other processes may serve from; in-process with the embedded database, which only this
 * process can use.
 */
function rateLimitTable(text: string | undefined): RateLimitTable | undefined {
  try {
    return parseRateLimits(text);
  } catch (error) {
    throw new ConfigError(`Invalid configuration: RATE_LIMITS is "off" or JSON such as {"messageSend":{"person":"120/60"}} (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
  }
}

function defaultEventBus(e: Environment): Config['eventBus']['kind'] {
  if (e.REDIS_URL) return 'redis';
  return e.DATABASE_URL ? 'postgres' : 'in-process';
}
