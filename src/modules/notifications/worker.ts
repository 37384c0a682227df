import type { Metrics } from '../../telemetry/metrics';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import { scheduleRepeating } from '../../common/schedule';
import type { MessagingSettings } from '../settings/messaging-settings.service';
import { planMessageNotices } from './planner';
import { NoticeDelivery, withoutDetails } from './delivery';
import { createTransports, type Transports } from './transports';

const PLAN_BATCH = 200;
/** Notices claimed, and sent side by side, at a time: each is done well within its lease. */
const DELIVERY_BATCH = 8;
/** Planning of one message is tried this often before it is left in the outbox for inspection. */
const PLAN_ATTEMPTS = 5;
const KEEP_DAYS = 90;

/**
 * Turns the outbox of sent messages into notices and sends those that are due, polling the
 * database; any number of processes may run one (rows are claimed with SKIP LOCKED).
 */
export class NotificationWorker {
  private readonly delivery: NoticeDelivery;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private stopHousekeeping?: () => void;

  constructor(
    private readonly orm: MikroORM,
    private readonly config: Config['notifications'],
    private readonly logger: Logger,
    private readonly transports: Transports = createTransports(config, logger),
    metrics?: Metrics,
  ) {
    this.delivery = new NoticeDelivery(orm, config, this.transports, logger, metrics);
  }

  start(): void {
    this.schedule(0);
    this.stopHousekeeping = scheduleRepeating(() => {
      this.orm.em
        .fork()
        .execute(`delete from notification where status <> 'PENDING' and created_at < now() - make_interval(days => ?)`, [KEEP_DAYS])
        .catch((error) => this.logger.warn({ err: error }, 'notification clean-up failed'));
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopHousekeeping?.();
    await this.running;
    this.transports.email?.close();
  }

  private schedule(afterMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().then((busy) => this.schedule(busy ? 0 : this.config.pollMs));
    }, afterMs);
    this.timer.unref();
  }

  /** One round: plan what was sent, then deliver what is due. True when there is more waiting. */
  async tick(): Promise<boolean> {
    try {
      const planned = await this.planOutbox();
      const delivered = await this.delivery.deliverDue(DELIVERY_BATCH);
      return planned === PLAN_BATCH || delivered === DELIVERY_BATCH;
    } catch (error) {
      this.logger.error({ error: withoutDetails(error) }, 'notification worker round failed');
      return false;
    }
  }

  /** Plans each outbox entry in its own transaction (it leaves the outbox with its notices written). */
  private async planOutbox(): Promise<number> {
    let handled = 0;
    while (handled < PLAN_BATCH && !this.stopped) {
      // Read afresh for each message: who is told depends on the settings as they are when it is
      // planned (the responders may have changed while a round went on).
      const settings = new Map<string, MessagingSettings>();
      let entry: { organisation_id: string; message_id: string } | undefined;
      try {
        const done = await this.orm.em.fork().transactional(async (em) => {
          [entry] = await em.execute<Array<{ organisation_id: string; message_id: string }>>(
            `select organisation_id, message_id from notification_outbox
              where attempts < ${PLAN_ATTEMPTS} and available_at <= clock_timestamp() order by available_at limit 1 for update skip locked`,
          );
          if (!entry) return false;
          await planMessageNotices(em, this.config, entry.organisation_id, entry.message_id, settings);
          await em.execute('delete from notification_outbox where organisation_id = ? and message_id = ?', [entry.organisation_id, entry.message_id]);
          return true;
        });
        if (!done) break;
      } catch (error) {
        if (!entry) throw error;
        this.logger.error({ messageId: entry.message_id, error: withoutDetails(error) }, 'planning notifications failed');
        // Tried again later (10 s, 40 s, 90 s...), behind the others.
        await this.orm.em
          .fork()
          .execute(
            `update notification_outbox set attempts = attempts + 1, available_at = clock_timestamp() + make_interval(secs => 10 * (attempts + 1) ^ 2)
              where organisation_id = ? and message_id = ?`,
            [entry.organisation_id, entry.message_id],
          );
      }
      handled++;
    }
    return handled;
  }
}
