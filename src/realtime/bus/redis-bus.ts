import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LocalListeners, parseNotice, type BusListener, type BusNotice, type EventBus } from './event-bus';

const CHANNEL = 'care-messaging:events';

/**
 * Redis pub/sub across processes. ioredis reconnects and re-subscribes by itself; every time the
 * subscriber connection is ready again, readers resync from the log, since Redis pub/sub keeps
 * nothing for a subscriber that was away.
 */
export class RedisEventBus implements EventBus {
  readonly name = 'redis';
  private readonly origin = randomUUID();
  private readonly listeners = new LocalListeners();
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readyOnce = false;

  constructor(
    url: string,
    private readonly logger: Logger,
  ) {
    const options = { lazyConnect: true, autoResubscribe: false, maxRetriesPerRequest: 2, retryStrategy: (times: number) => Math.min(100 * 2 ** times, 5_000) };
    this.publisher = new Redis(url, { ...options, connectionName: 'care-messaging-bus-publish' });
    this.subscriber = new Redis(url, { ...options, connectionName: 'care-messaging-bus-listener' });
    for (const connection of [this.publisher, this.subscriber]) {
      connection.on('error', (error) => logger.warn({ err: error }, 'event bus redis connection error'));
    }
    this.subscriber.on('message', (channel: string, payload: string) => {
      if (channel !== CHANNEL) return;
      const parsed = parseNotice(payload);
      if (!parsed) {
        logger.warn('event bus dropped a malformed notice');
        return;
      }
      if ((parsed as { origin?: string }).origin === this.origin) return;
      this.listeners.deliver(parsed);
    });
    this.subscriber.on('ready', () => {
      if (!this.readyOnce) {
        this.readyOnce = true;
        return;
      }
      // Resync only once subscribed again: a notice published before that is caught by the resync.
      this.subscriber.subscribe(CHANNEL).then(
        () => {
          logger.info('event bus redis reconnected; resyncing readers');
          this.listeners.deliver({ kind: 'resync' });
        },
        (error) => {
          logger.warn({ err: error }, 'event bus redis resubscribe failed; reconnecting');
          this.subscriber.disconnect(true);
        },
      );
    });
  }

  async start(): Promise<void> {
    await Promise.all([this.publisher.connect(), this.subscriber.connect()]);
    await this.subscriber.subscribe(CHANNEL);
  }

  async publish(notice: BusNotice): Promise<void> {
    this.listeners.deliver(notice);
    try {
      await this.publisher.publish(CHANNEL, JSON.stringify({ ...notice, origin: this.origin }));
    } catch (error) {
      this.logger.warn({ err: error }, 'event bus publish failed');
    }
  }

  subscribe(listener: BusListener): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await Promise.allSettled([this.publisher.quit(), this.subscriber.quit()]);
  }
}
