import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/config';
import type { DestinationStream } from 'pino';
import { createLogger, startServer, type RunningServer } from '../../src/server';
import { signToken, type TokenRequest } from '../../src/auth/tokens';
import type { EventBus } from '../../src/realtime/bus';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface TestServer extends RunningServer {
  token(request: TokenRequest): Promise<string>;
}

/**
 * The real server on a random port, against the run's PostgreSQL (or `options.databaseUrl`, a
 * database of the file's own). One per test file.
 */
export async function startTestServer(overrides: Record<string, string> = {}, bus?: EventBus, options: { databaseUrl?: string; logs?: DestinationStream; clock?: () => Date } = {}): Promise<TestServer> {
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('DATABASE_URL is set by the global setup');
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    SEED_DEMO: 'false',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    FILES_DIR: path.join(os.tmpdir(), `care-messaging-files-${randomUUID()}`),
    MAIL_DIR: path.join(os.tmpdir(), `care-messaging-mail-${randomUUID()}`),
    // Every test server shares one database: only the notification tests run a worker, so that
    // one worker (and its stand-in mail server) gets every notice.
    NOTIFICATION_WORKER: 'false',
    // One test person sends hundreds of messages and one address opens hundreds of sockets: the
    // abuse limits are tested in test/rate-limits.test.ts, with limits of its own.
    RATE_LIMITS: 'off',
    // Envelopes between clinics are relayed when a send kicks the relay; no polling in between
    // (tests that count statements would count the poll's). test/clinics.test.ts polls.
    CLINIC_RELAY_POLL_MS: '600000',
    // Webhook deliveries likewise: a send in an organisation with endpoints kicks the dispatcher,
    // and test/webhooks.test.ts polls for its retries.
    WEBHOOK_POLL_MS: '600000',
    // Escalations likewise (test/escalation.test.ts sets its own poll and clock).
    ESCALATION_POLL_MS: '600000',
    ...overrides,
  });
  const server = await startServer(config, databaseUrl, options.logs ? createLogger(config, options.logs) : undefined, bus, { clock: options.clock });
  return { ...server, token: (request) => signToken(TEST_JWT_SECRET, request) };
}
