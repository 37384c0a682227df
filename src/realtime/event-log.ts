import type { EntityManager } from '@mikro-orm/postgresql';
import { ChannelEventRecord, type ChannelEventType } from './channel-event.entity';
import type { ChannelEventNotice, EventBus } from './event-bus';
import type { PersonActor } from '../auth/actor';

export interface AppendEvent {
  channelId: string;
  type: ChannelEventType;
  messageId?: string;
  memberId?: string;
}

/**
 * Writes channel events inside one transaction and publishes their notices only after it
 * commits. Sequence numbers come from the channel row's counter, so they are gapless and the
 * row lock orders concurrent writers.
 */
export class EventLogTransaction {
  private readonly notices: ChannelEventNotice[] = [];

  constructor(
    readonly em: EntityManager,
    private readonly organisationId: string,
    private readonly actor: PersonActor | undefined,
  ) {}

  /** Reserves the next sequence number of a channel (locks its row until commit). */
  async nextSeq(channelId: string): Promise<number> {
    const rows = await this.em.execute<{ last_seq: string }[]>(
      `update channel set last_seq = last_seq + 1, last_activity_at = now(), updated_at = now()
        where organisation_id = ? and id = ? returning last_seq`,
      [this.organisationId, channelId],
    );
    if (rows.length !== 1) throw new Error('channel vanished during its transaction');
    return Number(rows[0].last_seq);
  }

  /** Records an event at `seq` (from nextSeq) or at a newly reserved one. */
  async append(event: AppendEvent, seq?: number): Promise<number> {
    const position = seq ?? (await this.nextSeq(event.channelId));
    this.em.create(ChannelEventRecord, {
      organisationId: this.organisationId,
      channelId: event.channelId,
      seq: position,
      type: event.type,
      messageId: event.messageId ?? null,
      memberId: event.memberId ?? null,
      actorTeamMemberId: this.actor?.kind === 'staff' ? this.actor.teamMemberId : null,
      actorPatientId: this.actor?.kind === 'patient' ? this.actor.patientId : null,
      createdAt: new Date(),
    });
    this.notices.push({ organisationId: this.organisationId, channelId: event.channelId, seq: position });
    return position;
  }

  async publish(bus: EventBus): Promise<void> {
    await Promise.all(this.notices.map((notice) => bus.publish(notice)));
  }
}

/** Runs `work` in a transaction whose events are published once it has committed. */
export async function withEventLog<T>(
  em: EntityManager,
  bus: EventBus,
  organisationId: string,
  actor: PersonActor | undefined,
  work: (log: EventLogTransaction) => Promise<T>,
): Promise<T> {
  let log: EventLogTransaction | undefined;
  const result = await em.transactional(async (tx) => {
    log = new EventLogTransaction(tx, organisationId, actor);
    return work(log);
  });
  await log?.publish(bus);
  return result;
}
