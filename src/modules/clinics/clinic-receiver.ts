import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { eventId, queueWebhookEvent, WebhookEventType } from '../webhooks/webhook-events';
import { TENANT_FILTER } from '../../db/tenant';
import { uuidArray } from '../../db/sql';
import { AuditTrail, insertAuditRecords } from '../audit/audit-log';
import type { EventBus } from '../../realtime/bus';
import { withEventLog, type EventLogTransaction } from '../../realtime/event-log';
import { LockMode } from '@mikro-orm/core';
import type { FileStore } from '../attachments/file-store';
import { loadMessagingSettings } from '../settings/messaging-settings.service';
import { envelopeSchema, type Envelope, type EnvelopeSender } from './clinic-envelope';
import { closeConversation, openClinicThread, remoteMessage, systemNote } from './handover-steps';
import { ConsentMethod, Handover, HandoverDirection, HandoverStatus } from './handover.entity';

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
export async function receiveEnvelope(orm: MikroORM, bus: EventBus, files: FileStore, sender: EnvelopeSender, toSlug: string, raw: unknown): Promise<DeliveryResult> {
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
  // Transfer copies of a decided handover's files: removed once the decision is recorded.
  const transferred: string[] = [];
  try {
    const result = await withEventLog({ em, audit }, bus, receiver.id, undefined, async (log) => {
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
      transferred.push(...(await apply(log, receiver.id, sender, envelope)));
      return { outcome: 'APPLIED' as const };
    });
    for (const key of transferred) await files.remove(key).catch(() => undefined);
    return result;
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    await insertAuditRecords(em, [{ ...record, outcome: 'REJECTED', errorCode: 'REFUSED' }]);
    return { outcome: 'REFUSED', reason: error.message };
  }
}

/** Applies the envelope; returns transfer keys whose files may go once it committed. */
async function apply(log: EventLogTransaction, organisationId: string, sender: EnvelopeSender, envelope: Envelope): Promise<string[]> {
  switch (envelope.kind) {
    case 'CONVERSATION_STARTED': {
      const channelId = await openIncomingThread(log, organisationId, sender, envelope.thread, envelope.title, envelope.aboutPatientName);
      await remoteMessage(log, organisationId, channelId, { authorName: envelope.message.authorName, clinicName: sender.name, body: envelope.message.body }, true);
      return [];
    }
    case 'MESSAGE': {
      const channelId = await threadChannel(log.em, organisationId, sender, envelope.thread);
      await remoteMessage(log, organisationId, channelId, { authorName: envelope.message.authorName, clinicName: sender.name, body: envelope.message.body }, true);
      return [];
    }
    case 'CONVERSATION_CLOSED': {
      const channelId = await threadChannel(log.em, organisationId, sender, envelope.thread);
      await systemNote(log, organisationId, channelId, `${envelope.closedBy} at ${sender.name} closed this conversation on their side.`);
      return [];
    }
    case 'HANDOVER_OFFERED': {
      const { offer } = envelope;
      const clinicChannelId = await openIncomingThread(log, organisationId, sender, envelope.thread, `Handover: ${offer.title}`, offer.patient.name);
      const consent = `${offer.consent.method.toLowerCase()} consent attested by ${offer.consent.attestedBy} on ${offer.consent.obtainedAt.slice(0, 10)}`;
      const body = `Offers to hand over a conversation with ${offer.patient.name} (${offer.transcript.length} messages; ${consent}).${offer.note ? `\n\n${offer.note}` : ''}`;
      await remoteMessage(log, organisationId, clinicChannelId, { authorName: offer.offeredBy, clinicName: sender.name, body }, true);
      log.em.create(Handover, {
        organisationId,
        direction: HandoverDirection.INCOMING,
        thread: envelope.thread,
        remoteClinicSlug: sender.slug,
        remoteClinicName: sender.name,
        clinicChannelId,
        offer,
        consentAttestedBy: offer.consent.attestedBy,
        consentObtainedAt: new Date(offer.consent.obtainedAt),
        consentMethod: offer.consent.method as ConsentMethod,
      });
      await log.em.flush();
      return [];
    }
    case 'HANDOVER_ACCEPTED':
    case 'HANDOVER_DECLINED': {
      const handover = await log.em.findOne(
        Handover,
        { organisationId, direction: HandoverDirection.OUTGOING, remoteClinicSlug: sender.slug, thread: envelope.thread },
        { lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      if (!handover) throw new Refused('no such handover');
      if (handover.status !== HandoverStatus.PENDING) return [];
      if (envelope.kind === 'HANDOVER_ACCEPTED') {
        handover.status = HandoverStatus.ACCEPTED;
        handover.decidedAt = new Date();
        // The patient consented to this: they are told where their conversation continues, and it closes for them here.
        await systemNote(log, organisationId, handover.channelId!, `This conversation was handed over to ${sender.name}, where it continues.`, { notify: true });
        await closeConversation(log, organisationId, handover.channelId!);
        await systemNote(log, organisationId, handover.clinicChannelId, `${envelope.decidedBy} at ${sender.name} accepted the handover.`);
        await log.em.flush();
        const [channel] = await log.em.execute<Array<{ patient_id: string | null }>>('select patient_id from channel where organisation_id = ? and id = ?', [organisationId, handover.channelId]);
        await queueWebhookEvent(log.em, organisationId, {
          id: eventId(organisationId, handover.id, WebhookEventType.CONVERSATION_HANDED_OVER),
          type: WebhookEventType.CONVERSATION_HANDED_OVER,
          occurredAt: handover.decidedAt,
          data: { organisationId, channelId: handover.channelId, handoverId: handover.id, patientId: channel?.patient_id ?? null, toClinic: { slug: sender.slug, name: sender.name } },
        });
        return transferKeysOf(handover);
      }
      return recordDeclined(log, organisationId, handover, `${sender.name} declined the handover: ${envelope.reason}`, envelope.reason);
    }
  }
}

const transferKeysOf = (handover: Handover) => handover.offer.transcript.flatMap((sent) => sent.files.map((file) => file.transferKey));

/** The sending side of a handover that will not happen: declined, staff told (never the patient); returns its transfer keys. */
async function recordDeclined(log: EventLogTransaction, organisationId: string, handover: Handover, note: string, reason: string): Promise<string[]> {
  handover.status = HandoverStatus.DECLINED;
  handover.declineReason = reason;
  handover.decidedAt = new Date();
  await systemNote(log, organisationId, handover.channelId!, note, { internal: true });
  await systemNote(log, organisationId, handover.clinicChannelId, note);
  await log.em.flush();
  return transferKeysOf(handover);
}

/**
 * An offer that never reached the other clinic (it refused the envelope, or the relay gave up):
 * on the sending side the handover is declined with the reason, so the conversation may be
 * offered again, and the transfer copies of its files go. Audited as the relay's.
 */
export async function handoverNotDelivered(orm: MikroORM, bus: EventBus, files: FileStore, organisationId: string, raw: unknown, reason: string): Promise<void> {
  const parsed = envelopeSchema.safeParse(raw);
  if (!parsed.success || parsed.data.kind !== 'HANDOVER_OFFERED') return;
  const { thread } = parsed.data;
  const em = orm.em.fork({ clear: true, useContext: false });
  em.setFilterParams(TENANT_FILTER, { organisationId });
  const audit = new AuditTrail();
  audit.begin({
    organisationId,
    actorKind: 'system',
    actorId: 'clinic-relay',
    requestId: parsed.data.id,
    action: 'Clinic.HANDOVER_NOT_DELIVERED',
    targetType: 'clinic_thread',
    targetId: thread,
    outcome: 'ALLOWED',
    errorCode: null,
    occurredAt: new Date(),
  });
  const transferred = await withEventLog({ em, audit }, bus, organisationId, undefined, async (log) => {
    const handover = await log.em.findOne(Handover, { organisationId, direction: HandoverDirection.OUTGOING, thread }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!handover || handover.status !== HandoverStatus.PENDING) return [];
    return recordDeclined(log, organisationId, handover, `The handover did not reach ${handover.remoteClinicName} (${reason}); it may be offered again.`, `Not delivered: ${reason}`);
  });
  for (const key of transferred) await files.remove(key).catch(() => undefined);
}

/** The receiving copy of a conversation another clinic started: its selected responders join; when every team member responds, it waits in their incoming conversations. */
async function openIncomingThread(log: EventLogTransaction, organisationId: string, sender: EnvelopeSender, thread: string, title: string, patientName: string | null): Promise<string> {
  const settings = await loadMessagingSettings(log.em, organisationId);
  if (!settings.clinicsCanStartConversations) throw new Refused('this clinic does not accept conversations from other clinics');
  const members = settings.allStaffRespond ? [] : await activeTeamMembers(log.em, organisationId, settings.responderIds);
  return openClinicThread(log, organisationId, sender, thread, title, { startedByClinic: true, remotePatientName: patientName, members });
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
