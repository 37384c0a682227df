import type { MikroORM } from '@mikro-orm/postgresql';
import { PollingLoop } from '../../common/polling-loop';
import type { Logger } from 'pino';
import type { EventBus } from '../../realtime/bus';
import type { FileStore } from '../attachments/file-store';
import { withoutDetails } from '../notifications/delivery';
import { handoverNotDelivered, receiveEnvelope } from './clinic-receiver';

/** One process at a time relays (an advisory lock), whatever the number of processes: envelopes to a clinic arrive in the order they were written. */
const RELAY_LOCK = 'care-messaging-clinic-relay';
const BATCH = 100;
/** After this many failed attempts an envelope is left for inspection (refused_at, last_error). */
export const MAX_ATTEMPTS = 12;

interface Pending {
  organisation_id: string;
  id: string;
  to_slug: string;
  envelope: unknown;
  attempts: number;
  from_slug: string;
  from_name: string;
}

export interface ClinicRelayOptions {
  /** How often every process looks for envelopes to relay besides being kicked after a send. */
  pollMs: number;
}

/**
 * Carries envelopes from each organisation's outbox to the receiving organisation, in the order
 * they were written, at least once (a delivery is recorded after the receiver applied it; the
 * receiver's inbox makes a repeat change nothing). A failed delivery is retried with exponential
 * backoff, and the envelopes behind it to the same clinic wait for it.
 */
export class ClinicRelay {
  private readonly loop: PollingLoop;

  constructor(
    private readonly orm: MikroORM,
    private readonly bus: EventBus,
    private readonly files: FileStore,
    private readonly logger: Logger,
    private readonly options: ClinicRelayOptions,
  ) {
    // After a pass the relay waits for the next poll unless a send kicked it meanwhile.
    this.loop = new PollingLoop(() => this.relay().then(() => false), options.pollMs, (error) => this.logger.warn({ err: error }, 'clinic relay failed'));
  }

  start(): void {
    this.loop.start(this.options.pollMs);
  }

  /** Relays soon (after a send committed an envelope). */
  kick(): void {
    this.loop.kick();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass: relays what is due; returns how many envelopes were delivered or refused. */
  async relay(): Promise<number> {
    return this.orm.em.fork().transactional(async (em) => {
      const [{ locked }] = await em.execute<Array<{ locked: boolean }>>('select pg_try_advisory_xact_lock(hashtext(?)) as locked', [RELAY_LOCK]);
      if (!locked) return 0;
      const due = await em.execute<Pending[]>(
        `select o.organisation_id, o.id, o.to_slug, o.envelope, o.attempts, g.slug as from_slug, g.name as from_name
           from clinic_outbox o join organisation g on g.id = o.organisation_id
          where o.delivered_at is null and o.refused_at is null and o.next_attempt_at <= clock_timestamp()
            -- Nothing overtakes an earlier envelope to the same clinic that waits for its retry.
            and not exists (
              select 1 from clinic_outbox e
               where e.organisation_id = o.organisation_id and e.to_slug = o.to_slug
                 and e.delivered_at is null and e.refused_at is null and e.next_attempt_at > clock_timestamp()
                 and (e.created_at, e.id) < (o.created_at, o.id))
          order by o.created_at, o.id
          limit ${BATCH}`,
      );
      const blocked = new Set<string>();
      let done = 0;
      for (const row of due) {
        // Order per pair of clinics within the pass: nothing overtakes an envelope that just failed.
        const pair = `${row.organisation_id}>${row.to_slug}`;
        if (blocked.has(pair)) continue;
        try {
          const result = await receiveEnvelope(this.orm, this.bus, this.files, { slug: row.from_slug, name: row.from_name }, row.to_slug, row.envelope);
          if (result.outcome === 'REFUSED') {
            this.logger.warn({ envelopeId: row.id, reason: result.reason }, 'clinic envelope refused by its receiver');
            await em.execute('update clinic_outbox set refused_at = now(), last_error = ?, attempts = attempts + 1 where organisation_id = ? and id = ?', [result.reason, row.organisation_id, row.id]);
            await handoverNotDelivered(this.orm, this.bus, this.files, row.organisation_id, row.envelope, result.reason);
          } else {
            await em.execute('update clinic_outbox set delivered_at = now(), attempts = attempts + 1 where organisation_id = ? and id = ?', [row.organisation_id, row.id]);
          }
          done += 1;
        } catch (error) {
          blocked.add(pair);
          const attempts = row.attempts + 1;
          this.logger.warn({ envelopeId: row.id, attempts, error: withoutDetails(error) }, 'clinic envelope delivery failed; will retry');
          await em.execute(
            `update clinic_outbox set attempts = ?, last_error = ?, next_attempt_at = clock_timestamp() + make_interval(secs => ?),
                    refused_at = case when ? then now() end
              where organisation_id = ? and id = ?`,
            [attempts, 'delivery failed', Math.min(3600, 2 ** attempts), attempts >= MAX_ATTEMPTS, row.organisation_id, row.id],
          );
          if (attempts >= MAX_ATTEMPTS) await handoverNotDelivered(this.orm, this.bus, this.files, row.organisation_id, row.envelope, 'delivery failed').catch(() => undefined);
        }
      }
      return done;
    });
  }
}
