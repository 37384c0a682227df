import type { EntityManager } from '@mikro-orm/postgresql';
import type { ChannelEventType } from './channel-event.entity';
import type { EventBus } from './bus';
import type { PersonActor } from '../auth/actor';
import { textArray } from '../db/sql';
import type { EventAudience } from '../policy/messages';
import { auditedTransaction, auditInsert, insertAuditRecords, type AuditedScope, type AuditRecord } from '../modules/audit/audit-log';
import { preparedRows } from '../db/prepared';

export interface AppendEvent {
  channelId: string;
  type: ChannelEventType;
  messageId?: string;
  memberId?: string;
  /** Only team members may see it. */
  staffOnly?: boolean;
  /** About a note addressed to role groups: only its audience is told (see messagePolicy.eventAudience). */
  audienceRoles?: string[] | null;
  audienceTeamMemberId?: string | null;
  /** The person a membership or read event is about. */
  subject?: { teamMemberId?: string | null; patientId?: string | null };
  /** Only the subject is told. */
  subjectOnly?: boolean;
}

interface PendingEvent extends AppendEvent {
  seq: number;
  createdAt: Date;
}

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

  /**
   * The reservation of `nextSeq` as a common table expression named `reserved` (one row: its
   * `seq`), for a statement that writes what the sequence number is for in the same round trip.
   */
  nextSeqCte(channelId: string, activity = true): { sql: string; params: unknown[] } {
    return reservedSeqCte(this.organisationId, channelId, activity);
  }

  /** Reserves `count` consecutive sequence numbers of a channel; returns the first. */
  async reserveSeqs(channelId: string, count: number, activity = true): Promise<number> {
    const rows = await preparedRows<{ last_seq: string }[]>(this.em,
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

  /**
   * Writes the collected events with the transaction's position, in one statement that takes the
   * organisation's counter (its row lock, held until commit, is what orders positions by commit):
   * it runs last in the transaction, so the lock is held for as short a time as possible. The
   * operation's audit record, if given, is written in the same statement.
   */
  async finish(audit?: AuditRecord): Promise<void> {
    if (this.pending.length === 0) {
      if (audit) await insertAuditRecords(this.em, [audit]);
      return;
    }
    await this.em.flush();
    const audited = audit ? auditInsert([audit]) : undefined;
    const actorTeamMemberId = this.actor?.kind === 'staff' ? this.actor.teamMemberId : null;
    const actorPatientId = this.actor?.kind === 'patient' ? this.actor.patientId : null;
    const rows = await preparedRows<{ position: string }[]>(this.em,
      `with counter as (
         insert into event_position (organisation_id, last_position) values (?, 1)
         on conflict (organisation_id) do update set last_position = event_position.last_position + 1
         returning last_position),
       written as (
         insert into channel_event (organisation_id, channel_id, seq, position, type, message_id, member_id,
           actor_team_member_id, actor_patient_id, staff_only, audience_roles, audience_team_member_id, subject_team_member_id, subject_patient_id, subject_only, created_at)
         select ?, e.channel_id, e.seq, counter.last_position, e.type, e.message_id, e.member_id, ?, ?, e.staff_only,
                e.audience_roles::text[], e.audience_team_member_id, e.subject_team_member_id, e.subject_patient_id, e.subject_only, e.created_at
           from counter, unnest(?::uuid[], ?::bigint[], ?::text[], ?::uuid[], ?::uuid[], ?::boolean[], ?::text[], ?::uuid[], ?::uuid[], ?::uuid[], ?::boolean[], ?::timestamptz[])
                as e(channel_id, seq, type, message_id, member_id, staff_only, audience_roles, audience_team_member_id, subject_team_member_id, subject_patient_id, subject_only, created_at))
       ${audited ? `, audited as (${audited.sql})` : ''}
       select last_position as position from counter`,
      [
        this.organisationId,
        this.organisationId,
        actorTeamMemberId,
        actorPatientId,
        ...eventColumns(this.pending),
        ...(audited?.params ?? []),
      ],
    );
    this.position = Number(rows[0].position);
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
    // The audit record goes with the events, in the last statement: the organisation's counter is
    // locked from there to the commit only.
    await log.finish(scope.audit?.claim());
    return value;
  });
  await log?.publish(bus);
  return result;
}

/**
 * A channel's next sequence number as a common table expression named `reserved` (one row, its
 * `seq`; none when the channel is absent or fails `condition`, on channel `channel`): its row
 * stays locked until commit.
 */
export function reservedSeqCte(organisationId: string, channelId: string, activity: boolean, condition?: string): { sql: string; params: unknown[] } {
  return {
    sql: `reserved as (update channel set last_seq = last_seq + 1${activity ? ', last_activity_at = now()' : ''}, updated_at = now()
                        where organisation_id = ? and id = ?${condition ? ` and ${condition}` : ''} returning last_seq as seq)`,
    params: [organisationId, channelId],
  };
}

/**
 * The tail of a change made in one statement, without a transaction around it: common table
 * expressions that write one event per row of the CTE `source` (columns `channel_id`, `seq`,
 * `id` of the message, `created_at`), take the organisation's next position (`counter`, whose
 * row lock is held to the statement's commit, so positions follow commit order, as in
 * `finish`), and write the operation's audit record when the change happened.
 */
export function eventTailCtes(
  organisationId: string,
  actor: PersonActor,
  source: string,
  event: { type: ChannelEventType } & EventAudience,
  audit: AuditRecord | undefined,
): { sql: string; params: unknown[] } {
  const audited = audit ? auditInsert([audit], `exists (select 1 from ${source})`) : undefined;
  return {
    sql: `counter as (
       insert into event_position (organisation_id, last_position) select ?, 1 from ${source}
       on conflict (organisation_id) do update set last_position = event_position.last_position + 1
       returning last_position),
     events as (
       insert into channel_event (organisation_id, channel_id, seq, position, type, message_id, actor_team_member_id, actor_patient_id, staff_only,
                                  audience_roles, audience_team_member_id, subject_only, created_at)
       select ?, s.channel_id, s.seq, counter.last_position, ?, s.id, ?, ?, ?, ?::text[], ?::uuid, false, s.created_at from ${source} s, counter)
     ${audited ? `, audited as (${audited.sql})` : ''}`,
    params: [
      organisationId,
      organisationId,
      event.type,
      actor.kind === 'staff' ? actor.teamMemberId : null,
      actor.kind === 'patient' ? actor.patientId : null,
      event.staffOnly,
      event.audienceRoles ? textArray(event.audienceRoles) : null,
      event.audienceTeamMemberId,
      ...(audited?.params ?? []),
    ],
  };
}

/** Tells every process that the organisation's events up to `position` are committed. */
export const publishPosition = (bus: EventBus, organisationId: string, position: number) => bus.publish({ kind: 'events', organisationId, position });

/** The pending events as one array per column (text array literals), for `unnest`. */
function eventColumns(events: readonly PendingEvent[]): string[] {
  const column = (value: (event: PendingEvent) => string | number | boolean | null | undefined) => textArray(events.map((event) => {
    const v = value(event);
    return v === null || v === undefined ? null : String(v);
  }));
  return [
    column((event) => event.channelId),
    column((event) => event.seq),
    column((event) => event.type),
    column((event) => event.messageId),
    column((event) => event.memberId),
    column((event) => event.staffOnly ?? false),
    // An array literal in a text element, cast back to text[] by the insert.
    column((event) => (event.audienceRoles ? textArray(event.audienceRoles) : null)),
    column((event) => event.audienceTeamMemberId),
    column((event) => event.subject?.teamMemberId),
    column((event) => event.subject?.patientId),
    column((event) => event.subjectOnly ?? false),
    column((event) => event.createdAt.toISOString()),
  ];
}
