import type { EntityManager } from '@mikro-orm/postgresql';
import type { PersonActor } from '../../auth/actor';
import { UserError, UserErrorCode } from '../../errors';
import { ChannelKind } from '../channels/channel.entity';
import { messagePolicy } from '../../policy/messages';
import { responseDueAt, type ResponseTargets, type Urgency } from './due-time';

/** The channels where a patient waits for the clinic: their care and service teams and their conversations (not groups, staff channels or DMs). */
export const RESPONSE_TRACKED_KINDS: readonly ChannelKind[] = [ChannelKind.CARE_TEAM, ChannelKind.SERVICE_TEAM, ChannelKind.CONVERSATION];

/** Patients mark a message URGENT only where the organisation lets them (staff always may). */
export function assertUrgencyAllowed(settings: { patientsCanMarkUrgent: boolean }, actor: PersonActor, urgency: Urgency): void {
  if (actor.kind === 'patient' && urgency === 'URGENT' && !settings.patientsCanMarkUrgent) {
    throw new UserError(UserErrorCode.URGENCY_NOT_ALLOWED, 'Messages cannot be marked urgent here: for anything urgent, call the clinic.', 'input.urgency');
  }
}

/** What a message does to its channel's response clock: a patient starts (or shortens) it, a team member's answer stops it. */
export type ResponseDueChange = { kind: 'waiting'; dueAt: Date; urgency: Urgency } | { kind: 'answered' };

/**
 * The change a message makes, or none: only messages the patient side sees, in a tracked channel;
 * a patient's starts the clock where the organisation has a target for its urgency.
 */
export function responseDueChange(targets: ResponseTargets, actor: PersonActor, channelKind: ChannelKind, message: { internal?: boolean; urgency: Urgency }, at: Date): ResponseDueChange | undefined {
  if (message.internal || !RESPONSE_TRACKED_KINDS.includes(channelKind)) return undefined;
  if (actor.kind === 'staff') return { kind: 'answered' };
  const dueAt = responseDueAt(targets, message.urgency, at);
  return dueAt ? { kind: 'waiting', dueAt, urgency: message.urgency } : undefined;
}

/**
 * A common table expression for the statement that writes a message (the CTE `written`): a
 * patient's message opens the channel's wait or keeps the oldest one (its due time the earlier of
 * the two, its urgency the higher; an URGENT message also brings a first escalation's next step
 * forward to its own due time); a team member's answer ends it. A wait a concurrent answer could
 * not see (it committed after that statement began) is already answered: a patient's message
 * starts it again from itself rather than inheriting its past due time.
 */
export function responseDueCte(change: ResponseDueChange | undefined, organisationId: string, channelId: string): { sql: string; params: unknown[] } {
  if (!change) return { sql: '', params: [] };
  if (change.kind === 'answered') {
    return { sql: ', answered as (delete from response_due where organisation_id = ? and channel_id = ? and exists (select 1 from written))', params: [organisationId, channelId] };
  }
  return {
    sql: `, waiting as (
       insert into response_due as r (organisation_id, channel_id, message_id, message_seq, waiting_since, urgency, due_at, next_at)
       select organisation_id, channel_id, id, seq, created_at, ?, ?::timestamptz, ?::timestamptz from written
       on conflict (organisation_id, channel_id) do update
         set (message_id, message_seq, waiting_since, urgency, due_at, level, escalated_at, next_at) = (
           select case when w.answered then excluded.message_id else r.message_id end,
                  case when w.answered then excluded.message_seq else r.message_seq end,
                  case when w.answered then excluded.waiting_since else r.waiting_since end,
                  case when w.answered or excluded.urgency = 'URGENT' then excluded.urgency else r.urgency end,
                  case when w.answered then excluded.due_at else least(r.due_at, excluded.due_at) end,
                  case when w.answered then 0 else r.level end,
                  case when w.answered then null else r.escalated_at end,
                  case when w.answered then excluded.due_at
                       when r.level = 0 then least(r.due_at, excluded.due_at)
                       when r.level = 1 and excluded.urgency = 'URGENT' then least(r.next_at, excluded.due_at)
                       else r.next_at end
             from (select ${messagePolicy.sql.answersWait('r')} as answered) w))`,
    params: [change.urgency, change.dueAt, change.dueAt],
  };
}

/** A closed conversation waits for nobody: its response clock stops (in the transaction that closes it). */
export async function stopResponseDue(em: EntityManager, organisationId: string, channelId: string): Promise<void> {
  await em.execute('delete from response_due where organisation_id = ? and channel_id = ?', [organisationId, channelId]);
}
