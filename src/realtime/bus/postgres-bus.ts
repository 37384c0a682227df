import { randomUUID } from 'node:crypto';
import { Client, Pool } from 'pg';
import type { Logger } from 'pino';
import { LocalListeners, parseNotice, type BusListener, type BusNotice, type EventBus } from './event-bus';

const CHANNEL = 'care_messaging_events';
export const LISTENER_APPLICATION_NAME = 'care-messaging-bus-listener';

export interface PostgresBusOptions {
  databaseUrl: string;
  logger: Logger;
  /** How often the listening connection is probed, to notice a connection that died silently. */
  heartbeatMs?: number;
  maxBackoffMs?: number;
}

/**
 * PostgreSQL LISTEN/NOTIFY across processes sharing one database. One dedicated connection
 * listens; notifies go through a small pool, so publishing does not depend on the listener.
 * A lost listener is reconnected with backoff and then every reader resyncs from the log, so
 * notices missed while it was down delay delivery and lose nothing.
 */
export class PostgresEventBus implements EventBus {
  readonly name = 'postgres';
  private readonly origin = randomUUID();
  private readonly listeners = new LocalListeners();
  private readonly pool: Pool;
  private client?: Client;
  private heartbeat?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private attempts = 0;
  private closed = false;
  private connectedOnce = false;

  constructor(private readonly options: PostgresBusOptions) {
    this.pool = new Pool({ connectionString: options.databaseUrl, max: 2, application_name: 'care-messaging-bus-notify' });
    this.pool.on('error', (error) => options.logger.warn({ err: error }, 'event bus notify connection failed'));
  }

  /** Connects the listener; resolves once LISTEN is in place. */
  async start(): Promise<void> {
    await this.connect();
  }

  async publish(notice: BusNotice): Promise<void> {
    // Local readers need not wait for the database round trip; the echo is recognised and dropped.
    this.listeners.deliver(notice);
    try {
      await this.pool.query('select pg_notify($1, $2)', [CHANNEL, JSON.stringify({ ...notice, origin: this.origin })]);
    } catch (error) {
      // Other processes catch up at their next notice or resync; the events themselves are committed.
      this.options.logger.warn({ err: error }, 'event bus notify failed');
    }
  }

  subscribe(listener: BusListener): () => void {
    return this.listeners.add(listener);
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.options.databaseUrl, application_name: LISTENER_APPLICATION_NAME, connectionTimeoutMillis: 10_000 });
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || !message.payload) return;
      const parsed = parseNotice(message.payload);
      if (!parsed) {
        this.options.logger.warn('event bus dropped a malformed notice');
        return;
      }
      if ((parsed as { origin?: string }).origin === this.origin) return;
      this.listeners.deliver(parsed);
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`listen ${CHANNEL}`);
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.attempts = 0;
    this.heartbeat = setInterval(() => this.probe(client), this.options.heartbeatMs ?? 10_000);
    this.heartbeat.unref();
    if (this.connectedOnce) {
      this.options.logger.info('event bus listener reconnected; resyncing readers');
      this.listeners.deliver({ kind: 'resync' });
    }
    this.connectedOnce = true;
  }

  private probe(client: Client): void {
    const timeout = setTimeout(() => this.lost(client, new Error('heartbeat timed out')), 5_000);
    client.query('select 1').then(
      () => clearTimeout(timeout),
      (error) => {
        clearTimeout(timeout);
        this.lost(client, error);
      },
    );
  }

  private lost(client: Client, error?: unknown): void {
    // Only the live listener counts; a connection that failed while connecting is retried by its caller.
    if (this.client !== client) return;
    this.client = undefined;
    if (this.heartbeat) clearInterval(this.heartbeat);
    client.removeAllListeners('notification');
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.options.logger.warn({ err: error }, 'event bus listener lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delay = Math.min(100 * 2 ** this.attempts, this.options.maxBackoffMs ?? 5_000);
    this.attempts += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch((error) => {
        this.options.logger.warn({ err: error }, 'event bus reconnect failed');
        if (!this.closed) this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    this.listeners.clear();
  }
}
