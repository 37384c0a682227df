import type { EntityManager } from '@mikro-orm/postgresql';
import type { ChannelEventType } from './channel-event.entity';
import type { EventBus } from './bus';
import type { PersonActor } from '../auth/actor';
import { auditedTransaction, type AuditedScope } from '../modules/audit/audit-log';

export interface AppendEvent {
  channelId: string;
  type: ChannelEventType;
  messageId?: string;
  memberId?: string;
  /** Only team members may see it. */
  staffOnly?: boolean;
  /** The person a membership or read event is about. */
  subject?: { teamMemberId?: string | null; patientId?: string | null };
  /** Only the subject is told. */
  subjectOnly?: boolean;
}

interface PendingEvent extends AppendEvent {
  seq: number;
  createdAt: Date;
}

const INSERT_CHUNK = 1_000;

/**
 * Collects the channel events of one transaction and writes them as its last statements:
 * sequence numbers come from each channel's counter (its row lock orders concurrent writers in a
 * channel), and the transaction's organisation-wide position is taken just before commit from
 * the organisation's counter, whose row lock makes positions follow commit order. Notices are
 * published only after commit.
 */
export class EventLogTransaction {
  private readonly pending: PendingEvent[] = [];
  private position?: number;

  constructor(
    readonly em: EntityManager,
    private readonly organisationId: string,
    private readonly actor: PersonActor | undefined,
  ) {}

  /**
   * Reserves the next sequence number of a channel (locks its row until commit). `activity`:
   * whether the channel moves up in activity-sorted lists (not for a member's own read marker).
   */
  async nextSeq(channelId: string, activity = true): Promise<number> {
    return this.reserveSeqs(channelId, 1, activity);
  }

  /** Reserves `count` consecutive sequence numbers of a channel; returns the first. */
  async reserveSeqs(channelId: string, count: number, activity = true): Promise<number> {
    const rows = await this.em.execute<{ last_seq: string }[]>(
      `update channel set last_seq = last_seq + ?${activity ? ', last_activity_at = now()' : ''}, updated_at = now()
        where organisation_id = ? and id = ? returning last_seq`,
      [count, this.organisationId, channelId],
    );
    if (rows.length !== 1) throw new Error('channel vanished during its transaction');
    return Number(rows[0].last_seq) - count + 1;
  }

  /** Records an event at `seq` (from nextSeq) or at a newly reserved one; written at commit. */
  async append(event: AppendEvent, seq?: number): Promise<number> {
    const position = seq ?? (await this.nextSeq(event.channelId));
    this.pending.push({ ...event, seq: position, createdAt: new Date() });
    return position;
  }

  /** Writes the collected events with the transaction's position. Runs last in the transaction. */
  async finish(): Promise<void> {
    if (this.pending.length === 0) return;
    await this.em.flush();
    const rows = await this.em.execute<{ last_position: string }[]>(
      `insert into event_position (organisation_id, last_position) values (?, 1)
       on conflict (organisation_id) do update set last_position = event_position.last_position + 1
       returning last_position`,
      [this.organisationId],
    );
    const position = Number(rows[0].last_position);
    const actorTeamMemberId = this.actor?.kind === 'staff' ? this.actor.teamMemberId : null;
    const actorPatientId = this.actor?.kind === 'patient' ? this.actor.patientId : null;
    for (let start = 0; start < this.pending.length; start += INSERT_CHUNK) {
      const chunk = this.pending.slice(start, start + INSERT_CHUNK);
      await this.em.execute(
        `insert into channel_event (organisation_id, channel_id, seq, position, type, message_id, member_id,
           actor_team_member_id, actor_patient_id, staff_only, subject_team_member_id, subject_patient_id, subject_only, created_at)
         values ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        chunk.flatMap((event) => [
          this.organisationId,
          event.channelId,
          event.seq,
          position,
          event.type,
          event.messageId ?? null,
          event.memberId ?? null,
          actorTeamMemberId,
          actorPatientId,
          event.staffOnly ?? false,
          event.subject?.teamMemberId ?? null,
          event.subject?.patientId ?? null,
          event.subjectOnly ?? false,
          event.createdAt,
        ]),
      );
    }
    this.position = position;
  }

  async publish(bus: EventBus): Promise<void> {
    if (this.position !== undefined) await bus.publish({ kind: 'events', organisationId: this.organisationId, position: this.position });
  }
}

/**
 * Runs `work` in a transaction whose events are written last and published once it has
 * committed; the operation's audit record (if any) is written in the same transaction.
 */
export async function withEventLog<T>(
  scope: AuditedScope,
  bus: EventBus,
  organisationId: string,
  actor: PersonActor | undefined,
  work: (log: EventLogTransaction) => Promise<T>,
): Promise<T> {
  let log: EventLogTransaction | undefined;
  const result = await auditedTransaction(scope, async (tx) => {
    log = new EventLogTransaction(tx, organisationId, actor);
    const value = await work(log);
    await log.finish();
    return value;
  });
  await log?.publish(bus);
  return result;
}
