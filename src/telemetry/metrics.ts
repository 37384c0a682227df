import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MikroORM } from '@mikro-orm/postgresql';

/** Operation names come from clients: only plausible ones become label values, and only so many. */
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_OPERATION_NAMES = 500;

/**
 * What an operator watches, in Prometheus' format (prom-client): requests and their latency per
 * operation, sockets and subscriptions, the lag from an event's commit to its sending, the depth
 * of the outboxes, notification outcomes and rate-limit refusals. Labels hold names and codes,
 * never ids, variables or text.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly operationNames = new Set<string>();

  readonly operations = new Histogram({
    name: 'care_messaging_operation_duration_seconds',
    help: 'GraphQL operations by transport, type, operation name (anonymous, or other past 500 names) and outcome (ok, error).',
    labelNames: ['transport', 'type', 'operation', 'outcome'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly sockets = new Gauge({ name: 'care_messaging_websocket_connections', help: 'Open WebSocket connections.', registers: [this.registry] });

  readonly subscriptions = new Gauge({ name: 'care_messaging_subscriptions', help: 'Active subscriptions.', registers: [this.registry] });

  readonly eventLag = new Histogram({
    name: 'care_messaging_event_lag_seconds',
    help: 'From an event’s commit to its sending to a live subscriber (events read from the shared feed; replays are not counted).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly notifications = new Counter({
    name: 'care_messaging_notifications_total',
    help: 'Notices by transport and outcome (SENT, SUPPRESSED, FAILED, RETRY).',
    labelNames: ['transport', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly webhooks = new Counter({
    name: 'care_messaging_webhook_attempts_total',
    help: 'Webhook delivery attempts by outcome (DELIVERED, RETRY, DEAD) and error code (none when delivered).',
    labelNames: ['outcome', 'error'] as const,
    registers: [this.registry],
  });

  readonly rateLimitRefusals = new Counter({
    name: 'care_messaging_rate_limit_refusals_total',
    help: 'Calls refused by an abuse limit, by action.',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });

  constructor(orm?: MikroORM) {
    collectDefaultMetrics({ register: this.registry, prefix: 'care_messaging_' });
    if (orm) this.watchOutboxes(orm);
  }

  /** The label for a client's operation name. */
  operationLabel(name: string | null | undefined): string {
    if (!name) return 'anonymous';
    if (!OPERATION_NAME.test(name)) return 'other';
    if (this.operationNames.has(name)) return name;
    if (this.operationNames.size >= MAX_OPERATION_NAMES) return 'other';
    this.operationNames.add(name);
    return name;
  }

  /** Outbox depths, read when scraped (one statement). */
  private watchOutboxes(orm: MikroORM): void {
    new Gauge({
      name: 'care_messaging_outbox_depth',
      help: 'Entries waiting in each outbox: messages to plan notices for, notices to send, envelopes to other clinics, webhook deliveries.',
      labelNames: ['outbox'] as const,
      registers: [this.registry],
      async collect() {
        const [row] = await orm.em.fork().execute<Array<{ planning: string; notices: string; clinics: string; webhooks: string }>>(
          `select (select count(*) from notification_outbox) as planning,
                  (select count(*) from notification where status in ('PENDING', 'SENDING')) as notices,
                  (select count(*) from clinic_outbox where delivered_at is null and refused_at is null) as clinics,
                  (select count(*) from webhook_delivery where status = 'PENDING') as webhooks`,
        );
        this.set({ outbox: 'notification_planning' }, Number(row.planning));
        this.set({ outbox: 'notifications' }, Number(row.notices));
        this.set({ outbox: 'clinic_envelopes' }, Number(row.clinics));
        this.set({ outbox: 'webhooks' }, Number(row.webhooks));
      },
    });
  }
}
