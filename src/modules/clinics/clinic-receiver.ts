import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { TENANT_FILTER } from '../../db/tenant';
import { uuidArray } from '../../db/sql';
import { AuditTrail, insertAuditRecords } from '../audit/audit-log';
import type { EventBus } from '../../realtime/bus';
import { withEventLog, type EventLogTransaction } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import { Channel, ChannelKind } from '../channels/channel.entity';
import { addMembers } from '../channels/membership';
import { Message } from '../messages/message.entity';
import { loadMessagingSettings } from '../settings/messaging-settings.service';
import { envelopeSchema, type Envelope, type EnvelopeSender } from './clinic-envelope';

/** How a delivery went: applied now, applied before (a retry), or refused for good with a reason. */
export type DeliveryResult = { outcome: 'APPLIED' | 'DUPLICATE' } | { outcome: 'REFUSED'; reason: string };

/** A refusal that retrying cannot change (the receiver does not accept it). */
class Refused extends Error {}

/**
 * Applies an envelope to the receiving organisation, at most once: its inbox remembers each
 * envelope it applied, in the transaction that applied it, so a redelivery (a retry, a relay that
 * died before it recorded the delivery) changes nothing. Every step is on the receiver's audit log
 * as the sending clinic's.
 */
export async function receiveEnvelope(orm: MikroORM, bus: EventBus, sender: EnvelopeSender, toSlug: string, raw: unknown): Promise<DeliveryResult> {
  const parsed = envelopeSchema.safeParse(raw);
  if (!parsed.success) return { outcome: 'REFUSED', reason: 'malformed envelope' };
  const envelope = parsed.data;
  const em = orm.em.fork({ clear: true, useContext: false });
  const [receiver] = await em.execute<Array<{ id: string }>>('select id from organisation where slug = ?', [toSlug]);
  if (!receiver) return { outcome: 'REFUSED', reason: 'no such clinic' };
  em.setFilterParams(TENANT_FILTER, { organisationId: receiver.id });
  const audit = new AuditTrail();
  const record = {
    organisationId: receiver.id,
    actorKind: 'clinic',
    actorId: sender.slug,
    requestId: envelope.id,
    action: `Clinic.${envelope.kind}`,
    targetType: 'clinic_thread',
    targetId: envelope.thread,
    outcome: 'ALLOWED' as const,
    errorCode: null,
    occurredAt: new Date(),
  };
  audit.begin(record);
  try {
    return await withEventLog({ em, audit }, bus, receiver.id, undefined, async (log) => {
      const fresh = await log.em.execute('insert into clinic_inbox (organisation_id, from_slug, envelope_id, kind) values (?, ?, ?, ?) on conflict do nothing returning envelope_id', [
        receiver.id,
        sender.slug,
        envelope.id,
        envelope.kind,
      ]);
      if (fresh.length === 0) {
        audit.begin(undefined);
        return { outcome: 'DUPLICATE' as const };
      }
      await apply(log, receiver.id, sender, envelope);
      return { outcome: 'APPLIED' as const };
    });
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    await insertAuditRecords(em, [{ ...record, outcome: 'REJECTED', errorCode: 'REFUSED' }]);
    return { outcome: 'REFUSED', reason: error.message };
  }
}

async function apply(log: EventLogTransaction, organisationId: string, sender: EnvelopeSender, envelope: Envelope): Promise<void> {
  switch (envelope.kind) {
    case 'CONVERSATION_STARTED': {
      const settings = await loadMessagingSettings(log.em, organisationId);
      if (!settings.clinicsCanStartConversations) throw new Refused('this clinic does not accept conversations from other clinics');
      const channel = log.em.create(Channel, {
        organisationId,
        kind: ChannelKind.CLINIC,
        title: envelope.title,
        remoteClinicSlug: sender.slug,
        remoteClinicName: sender.name,
        remoteThreadId: envelope.thread,
        remotePatientName: envelope.aboutPatientName,
        startedByClinic: true,
      });
      await log.em.flush();
      // The selected responders join; when every team member responds, it waits in their incoming conversations.
      const responders = settings.allStaffRespond ? [] : await activeTeamMembers(log.em, organisationId, settings.responderIds);
      await addMembers(log, organisationId, channel.id, responders.map((teamMemberId) => ({ teamMemberId })));
      await appendRemoteMessage(log, organisationId, channel.id, sender, envelope.message);
      return;
    }
    case 'MESSAGE': {
      const channelId = await threadChannel(log.em, organisationId, sender, envelope.thread);
      await appendRemoteMessage(log, organisationId, channelId, sender, envelope.message);
      return;
    }
    case 'CONVERSATION_CLOSED': {
      const channelId = await threadChannel(log.em, organisationId, sender, envelope.thread);
      await appendSystemMessage(log, organisationId, channelId, `${envelope.closedBy} at ${sender.name} closed this conversation on their side.`);
      return;
    }
  }
}

async function threadChannel(em: EntityManager, organisationId: string, sender: EnvelopeSender, thread: string): Promise<string> {
  const [row] = await em.execute<Array<{ id: string }>>('select id from channel where organisation_id = ? and remote_clinic_slug = ? and remote_thread_id = ?', [
    organisationId,
    sender.slug,
    thread,
  ]);
  if (!row) throw new Refused('no such conversation');
  return row.id;
}

async function activeTeamMembers(em: EntityManager, organisationId: string, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await em.execute<Array<{ id: string }>>('select id from team_member where organisation_id = ? and id = any(?::uuid[]) and archived_at is null', [organisationId, uuidArray(ids)]);
  return rows.map((row) => row.id);
}

/** A message of the other clinic: no author here, its author's name and clinic as sent; members and responders are told as of any message. */
async function appendRemoteMessage(log: EventLogTransaction, organisationId: string, channelId: string, sender: EnvelopeSender, sent: { authorName: string; body: string }): Promise<void> {
  const seq = await log.nextSeq(channelId);
  const message = log.em.create(Message, { organisationId, channelId, seq, body: sent.body, remoteAuthorName: sent.authorName, remoteClinicName: sender.name, createdAt: new Date() });
  await log.em.flush();
  await log.em.execute('insert into notification_outbox (organisation_id, message_id) values (?, ?)', [organisationId, message.id]);
  await log.append({ channelId, type: ChannelEventType.MESSAGE_SENT, messageId: message.id }, seq);
}

export async function appendSystemMessage(log: EventLogTransaction, organisationId: string, channelId: string, body: string): Promise<void> {
  const seq = await log.nextSeq(channelId);
  const message = log.em.create(Message, { organisationId, channelId, seq, body, system: true, createdAt: new Date() });
  await log.em.flush();
  await log.append({ channelId, type: ChannelEventType.MESSAGE_SENT, messageId: message.id }, seq);
}
