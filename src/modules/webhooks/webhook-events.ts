import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ChannelKind } from '../channels/channel.entity';
import { channelPolicy } from '../../policy/channels';

/** What a webhook endpoint can subscribe to. On the wire the type is dotted and lower case (`message.sent`). */
export enum WebhookEventType {
  MESSAGE_SENT = 'MESSAGE_SENT',
  MESSAGE_EDITED = 'MESSAGE_EDITED',
  MESSAGE_DELETED = 'MESSAGE_DELETED',
  MEMBER_ADDED = 'MEMBER_ADDED',
  MEMBER_REMOVED = 'MEMBER_REMOVED',
  CONVERSATION_STARTED = 'CONVERSATION_STARTED',
  CONVERSATION_CLOSED = 'CONVERSATION_CLOSED',
  CONVERSATION_HANDED_OVER = 'CONVERSATION_HANDED_OVER',
  CONVERSATION_ESCALATED = 'CONVERSATION_ESCALATED',
  NOTIFICATION_FAILED = 'NOTIFICATION_FAILED',
}

/** `MESSAGE_SENT` → `message.sent`, `CONVERSATION_HANDED_OVER` → `conversation.handed_over`. */
export const wireType = (type: WebhookEventType): string => type.toLowerCase().replace('_', '.');

/** An event as it is stored for delivery: ids, kinds and times only (content is added when sent, if the endpoint asked for it). */
export interface WebhookEvent {
  id: string;
  type: WebhookEventType;
  occurredAt: Date;
  data: Record<string, unknown>;
}

/** A channel event as the feeder reads it from the log, with its channel's kind and patient. */
export interface LoggedChannelEvent {
  organisation_id: string;
  channel_id: string;
  seq: string;
  type: string;
  message_id: string | null;
  actor_team_member_id: string | null;
  actor_patient_id: string | null;
  subject_team_member_id: string | null;
  subject_patient_id: string | null;
  staff_only: boolean;
  created_at: string | Date;
  channel_kind: ChannelKind;
  patient_id: string | null;
}

/** The same event always gets the same id, so a receiver can drop repeats (`webhook-id`). */
export const eventId = (...parts: string[]): string => `evt_${createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 27)}`;

const person = (teamMemberId: string | null, patientId: string | null) =>
  teamMemberId ? { kind: 'TEAM_MEMBER', id: teamMemberId } : patientId ? { kind: 'PATIENT', id: patientId } : null;

/** The webhook events a channel event stands for (none for reads, reactions and a member's own archive or mute). */
export function eventsOfChannelEvent(event: LoggedChannelEvent): WebhookEvent[] {
  const channel = { organisationId: event.organisation_id, channelId: event.channel_id, channelKind: event.channel_kind, patientId: event.patient_id };
  const actor = person(event.actor_team_member_id, event.actor_patient_id);
  const occurredAt = new Date(event.created_at);
  const make = (type: WebhookEventType, data: Record<string, unknown>): WebhookEvent => ({
    id: eventId(event.organisation_id, event.channel_id, event.seq, type),
    type,
    occurredAt,
    data: { ...channel, ...data },
  });
  const conversation = channelPolicy.isConversation(event.channel_kind);
  const events: WebhookEvent[] = [];
  // A conversation's first event is its start (whatever that event is).
  if (conversation && event.seq === '1') events.push(make(WebhookEventType.CONVERSATION_STARTED, { actor }));
  switch (event.type) {
    case 'MESSAGE_SENT':
      events.push(make(WebhookEventType.MESSAGE_SENT, { messageId: event.message_id, internal: event.staff_only, actor }));
      break;
    case 'MESSAGE_EDITED':
      events.push(make(WebhookEventType.MESSAGE_EDITED, { messageId: event.message_id, internal: event.staff_only, actor }));
      break;
    case 'MESSAGE_DELETED':
      events.push(make(WebhookEventType.MESSAGE_DELETED, { messageId: event.message_id, internal: event.staff_only, actor }));
      break;
    case 'MEMBER_JOINED':
      events.push(make(WebhookEventType.MEMBER_ADDED, { member: person(event.subject_team_member_id, event.subject_patient_id), actor }));
      break;
    case 'MEMBER_LEFT':
      events.push(make(WebhookEventType.MEMBER_REMOVED, { member: person(event.subject_team_member_id, event.subject_patient_id), actor }));
      break;
    case 'CHANNEL_CLOSED':
      if (conversation) events.push(make(WebhookEventType.CONVERSATION_CLOSED, { actor }));
      break;
    case 'ESCALATED':
      events.push(make(WebhookEventType.CONVERSATION_ESCALATED, { messageId: event.message_id }));
      break;
  }
  return events;
}

/**
 * Records an event that is not a channel event (a handover, a failed notice) in the caller's
 * transaction, for organisations with webhooks: it takes the next position of the organisation's
 * event log (whose row lock, held to commit, orders positions by commit), so the feeder sends it
 * in commit order with the channel events around it.
 */
export async function queueWebhookEvent(em: EntityManager, organisationId: string, event: WebhookEvent): Promise<void> {
  await em.execute(
    `with counter as (
       insert into event_position (organisation_id, last_position)
       select ?, 1 where exists (select 1 from webhook_feed where organisation_id = ?)
       on conflict (organisation_id) do update set last_position = event_position.last_position + 1
       returning last_position)
     insert into webhook_event (organisation_id, position, event_id, event_type, occurred_at, data)
     select ?, last_position, ?, ?, ?, ?::jsonb from counter`,
    [organisationId, organisationId, organisationId, event.id, event.type, event.occurredAt, JSON.stringify(event.data)],
  );
}

/** A recorded non-channel event as the feeder reads it. */
export interface LoggedWebhookEvent {
  position: string;
  event_id: string;
  event_type: WebhookEventType;
  occurred_at: string | Date;
  data: Record<string, unknown>;
}

export const eventOfLogged = (row: LoggedWebhookEvent): WebhookEvent => ({ id: row.event_id, type: row.event_type, occurredAt: new Date(row.occurred_at), data: row.data });
