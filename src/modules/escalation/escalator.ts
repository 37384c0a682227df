import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { EventBus } from '../../realtime/bus';
import { withEventLog } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import { TENANT_FILTER } from '../../db/tenant';
import { AuditTrail } from '../audit/audit-log';
import { ChannelStatus, type ChannelKind } from '../channels/channel.entity';
import { loadMessagingSettings } from '../settings/messaging-settings.service';
import { planEscalationNotices } from '../notifications/planner';
import { withoutDetails } from '../notifications/delivery';
import { PollingLoop } from '../../common/polling-loop';
import { messagePolicy } from '../../policy/messages';
import { afterResponseMinutes, targetMinutes, type Urgency } from './due-time';

const BATCH = 100;
const MINUTE = 60_000;
/** A step that failed (a fault of ours) is tried again after this long. */
const RETRY_AFTER_MINUTES = 5;

export interface EscalatorOptions {
  /** How often each process looks for waits past their due time. */
  pollMs: number;
  /** What time it is (tests move it on). */
  clock?: () => Date;
}

interface DueWait {
  organisation_id: string;
  channel_id: string;
  level: number;
}

/**
 * Escalates patient messages nobody answered by their due time: the first time to the channel's
 * team members (and a conversation's responders), then, after `secondEscalationMinutes` (counted as
 * response times are), to the role group (see planEscalationNotices). Each
 * step is one transaction that takes the channel's row (as a message's write does, so an answer
 * and an escalation never cross) and then the wait's, raises its level only from the level read,
 * writes a staff-only ESCALATED event (and so the webhook) and plans the notices: any number of
 * processes may run this, and each step happens once.
 */
export class Escalator {
  private readonly loop: PollingLoop;
  private readonly clock: () => Date;

  constructor(
    private readonly orm: MikroORM,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    options: EscalatorOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.loop = new PollingLoop(() => this.pass(), options.pollMs, (error) => this.logger.warn({ error: withoutDetails(error) }, 'escalation pass failed'));
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Escalates what is due now; true when there may be more at once. */
  async pass(): Promise<boolean> {
    const now = this.clock();
    const due = await this.orm.em.fork().execute<DueWait[]>('select organisation_id, channel_id, level from response_due where next_at <= ? order by next_at limit ?', [now, BATCH]);
    for (const wait of due) {
      if (this.loop.stopped) return false;
      try {
        await this.escalate(wait, now);
      } catch (error) {
        this.logger.warn({ organisationId: wait.organisation_id, channelId: wait.channel_id, error: withoutDetails(error) }, 'escalation failed; tried again later');
        await this.postpone(wait, now).catch(() => undefined);
      }
    }
    return due.length === BATCH;
  }

  /** A step that failed is tried again a few minutes on, so that one broken wait does not hold up the others or spin the loop. */
  private async postpone(wait: DueWait, now: Date): Promise<void> {
    await this.orm.em
      .fork()
      .execute('update response_due set next_at = ? where organisation_id = ? and channel_id = ? and level = ? and next_at <= ?', [
        new Date(now.getTime() + RETRY_AFTER_MINUTES * MINUTE),
        wait.organisation_id,
        wait.channel_id,
        wait.level,
        now,
      ]);
  }

  /** One step of one wait, if it is still due at the level read and nobody has answered; true when it escalated. */
  private async escalate(wait: DueWait, now: Date): Promise<boolean> {
    const organisationId = wait.organisation_id;
    const em = this.orm.em.fork({ clear: true, useContext: false });
    em.setFilterParams(TENANT_FILTER, { organisationId });
    const audit = new AuditTrail();
    audit.begin({
      organisationId,
      actorKind: 'system',
      actorId: 'escalation',
      requestId: randomUUID(),
      action: 'Escalation.escalate',
      targetType: 'channel',
      targetId: wait.channel_id,
      outcome: 'ALLOWED',
      errorCode: null,
      occurredAt: now,
    });
    const escalated = await withEventLog({ em, audit }, this.bus, organisationId, undefined, async (log) => {
      // The channel's row first, as a message's write takes it.
      const [channel] = await log.em.execute<Array<{ kind: ChannelKind; status: ChannelStatus; started_by_patient: boolean }>>(
        'select kind, status, started_by_patient from channel where organisation_id = ? and id = ? for no key update',
        [organisationId, wait.channel_id],
      );
      const [current] = await log.em.execute<Array<{ message_id: string; urgency: Urgency; answered: boolean; withdrawn: boolean }>>(
        `select r.message_id, r.urgency,
                ${messagePolicy.sql.answersWait('r')} as answered,
                not exists (select 1 from message m where m.organisation_id = r.organisation_id and m.channel_id = r.channel_id and m.seq >= r.message_seq
                               and m.author_patient_id is not null and m.deleted_at is null and ${messagePolicy.sql.seenByPatients('m')}) as withdrawn
           from response_due r
          where r.organisation_id = ? and r.channel_id = ? and r.level = ? and r.next_at <= ?
          for update of r`,
        [organisationId, wait.channel_id, wait.level, now],
      );
      if (!current || !channel) {
        // Another process took this step (or the channel is gone): nothing to record.
        audit.begin(undefined);
        return false;
      }
      const settings = await loadMessagingSettings(log.em, organisationId);
      // Answered or closed meanwhile, every waiting message deleted, or the organisation no longer sets a target for it: nobody waits.
      if (current.answered || current.withdrawn || targetMinutes(settings, current.urgency) == null || channel.status === ChannelStatus.CLOSED) {
        audit.begin(undefined);
        await log.em.execute('delete from response_due where organisation_id = ? and channel_id = ?', [organisationId, wait.channel_id]);
        return false;
      }
      const level = wait.level + 1;
      const nextAt = level === 1 && settings.secondEscalationMinutes ? afterResponseMinutes(settings, settings.secondEscalationMinutes, now) : null;
      await log.em.execute('update response_due set level = ?, escalated_at = ?, next_at = ? where organisation_id = ? and channel_id = ?', [level, now, nextAt, organisationId, wait.channel_id]);
      // Staff hear of it; the channel does not move up anyone's list (the patient's least of all).
      await log.append({ channelId: wait.channel_id, type: ChannelEventType.ESCALATED, messageId: current.message_id, staffOnly: true }, await log.nextSeq(wait.channel_id, false));
      await planEscalationNotices(log.em, settings, { organisationId, channelId: wait.channel_id, channel: { kind: channel.kind, startedByPatient: channel.started_by_patient }, level });
      return true;
    });
    if (!escalated) return false;
    this.logger.info({ organisationId, channelId: wait.channel_id, level: wait.level + 1 }, 'conversation escalated');
    return true;
  }
}
