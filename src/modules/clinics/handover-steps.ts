import { randomUUID } from 'node:crypto';
import { stopResponseDue } from '../escalation/response-due';
import { LockMode } from '@mikro-orm/core';
import type { AuditedScope } from '../audit/audit-log';
import type { StaffActor } from '../../auth/actor';
import { UserError, UserErrorCode } from '../../errors';
import { messagePolicy } from '../../policy/messages';
import type { EventBus } from '../../realtime/bus';
import { withEventLog, type EventLogTransaction } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import type { FileStore } from '../attachments/file-store';
import { Channel, ChannelKind, ChannelStatus } from '../channels/channel.entity';
import { addMembers, patientAndGuardians } from '../channels/membership';
import { Patient } from '../directory/patient.entity';
import { Message } from '../messages/message.entity';
import type { EnvelopeSender } from './clinic-envelope';
import { queueEnvelope } from './clinic-outbox';
import { copyFromTransfer } from './transfer-files';
import { Handover, HandoverStatus } from './handover.entity';

/** A new CLINIC channel: this clinic's copy of a conversation with another clinic; returns its id. */
export async function openClinicThread(
  log: EventLogTransaction,
  organisationId: string,
  clinic: EnvelopeSender,
  thread: string,
  title: string,
  options: { patientId?: string | null; startedBy?: string; startedByClinic?: boolean; remotePatientName?: string | null; members?: readonly string[] },
): Promise<string> {
  const channel = log.em.create(Channel, {
    organisationId,
    kind: ChannelKind.CLINIC,
    title,
    patientId: options.patientId ?? null,
    createdByTeamMemberId: options.startedBy ?? null,
    remoteClinicSlug: clinic.slug,
    remoteClinicName: clinic.name,
    remoteThreadId: thread,
    remotePatientName: options.remotePatientName ?? null,
    startedByClinic: options.startedByClinic ?? false,
  });
  await log.em.flush();
  const members = [...new Set([...(options.startedBy ? [options.startedBy] : []), ...(options.members ?? [])])];
  await addMembers(log, organisationId, channel.id, members.map((teamMemberId) => ({ teamMemberId })));
  return channel.id;
}

/**
 * An authorless message of the organisation in a channel: a note for staff only (`internal`), or
 * one everybody in it sees, and is told of when `notify` (notices carry no text).
 */
export async function systemNote(log: EventLogTransaction, organisationId: string, channelId: string, body: string, options: { internal?: boolean; notify?: boolean } = {}): Promise<void> {
  const internal = options.internal ?? false;
  const seq = await log.nextSeq(channelId, !internal);
  const message = log.em.create(Message, { organisationId, channelId, seq, body, system: true, internal, createdAt: new Date() });
  await log.em.flush();
  if (options.notify) await log.em.execute('insert into notification_outbox (organisation_id, message_id) values (?, ?)', [organisationId, message.id]);
  await log.append({ channelId, type: ChannelEventType.MESSAGE_SENT, messageId: message.id, ...messagePolicy.eventAudience(message) }, seq);
}

/** A message from someone at another clinic: no author here, their name and clinic as sent. */
export async function remoteMessage(
  log: EventLogTransaction,
  organisationId: string,
  channelId: string,
  sent: { authorName: string; clinicName: string; body: string; sentAt?: Date },
  notify: boolean,
): Promise<Message> {
  const seq = await log.nextSeq(channelId);
  const message = log.em.create(Message, { organisationId, channelId, seq, body: sent.body, remoteAuthorName: sent.authorName, remoteClinicName: sent.clinicName, createdAt: sent.sentAt ?? new Date() });
  await log.em.flush();
  if (notify) await log.em.execute('insert into notification_outbox (organisation_id, message_id) values (?, ?)', [organisationId, message.id]);
  await log.append({ channelId, type: ChannelEventType.MESSAGE_SENT, messageId: message.id }, seq);
  return message;
}

/** A message the patient wrote elsewhere (a handed-over transcript), theirs here too, sent when it was sent there. */
async function patientMessage(log: EventLogTransaction, organisationId: string, channelId: string, patientId: string, body: string, sentAt: Date): Promise<Message> {
  const seq = await log.nextSeq(channelId);
  const message = log.em.create(Message, { organisationId, channelId, seq, body, authorPatientId: patientId, createdAt: sentAt });
  await log.em.flush();
  await log.append({ channelId, type: ChannelEventType.MESSAGE_SENT, messageId: message.id }, seq);
  return message;
}

/** Closes a conversation for the patient (CHANNEL_CLOSED), as conversationClose does. */
export async function closeConversation(log: EventLogTransaction, organisationId: string, channelId: string): Promise<void> {
  const seq = await log.nextSeq(channelId);
  await log.em.execute(`update channel set status = ?, closed_at = now() where organisation_id = ? and id = ? and status <> ?`, [ChannelStatus.CLOSED, organisationId, channelId, ChannelStatus.CLOSED]);
  await stopResponseDue(log.em, organisationId, channelId);
  await log.append({ channelId, type: ChannelEventType.CHANNEL_CLOSED }, seq);
}

interface CopiedFile {
  attachmentId: string;
  storageKey: string;
  bytes: number;
  fileName: string;
  contentType: string;
}

/**
 * Accepts an incoming handover in one transaction: the patient (chosen, matched or created), a
 * conversation with them and the accepting team member, the transcript as messages of the sending
 * clinic (with their files, copied beforehand and checked by content), a notice to the patient,
 * and the envelope that tells the sending clinic. A second accept finds it accepted and changes nothing.
 */
export async function acceptHandover(
  scope: AuditedScope & { em: AuditedScope['em'] },
  deps: { bus: EventBus; files: FileStore; applyToNewPatient: (log: EventLogTransaction, organisationId: string, patientId: string) => Promise<void> },
  actor: StaffActor,
  handoverId: string,
  choice: { patientId: string } | { create: true },
  decidedBy: string,
): Promise<Handover> {
  const { organisationId } = actor;
  const pending = await scope.em.findOneOrFail(Handover, { organisationId, id: handoverId });
  const copies = new Map<string, CopiedFile[]>();
  /** Files that did not arrive intact: left out, and said so to the team. */
  const missing: string[] = [];
  for (const [index, sent] of pending.offer.transcript.entries()) {
    for (const file of sent.files) {
      const attachmentId = randomUUID();
      const storageKey = `${organisationId}/${attachmentId}`;
      const bytes = await copyFromTransfer(deps.files, file.transferKey, storageKey, file).catch(() => undefined);
      if (bytes !== undefined) copies.set(String(index), [...(copies.get(String(index)) ?? []), { attachmentId, storageKey, bytes, fileName: file.fileName, contentType: file.contentType }]);
      else missing.push(file.fileName);
    }
  }
  const discardCopies = () => Promise.all([...copies.values()].flat().map((copy) => deps.files.remove(copy.storageKey).catch(() => undefined)));
  let acceptedNow = false;
  try {
    const handover = await withEventLog(scope, deps.bus, organisationId, actor, async (log) => {
      const locked = await log.em.findOneOrFail(Handover, { organisationId, id: handoverId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (locked.status === HandoverStatus.ACCEPTED) return locked;
      if (locked.status === HandoverStatus.DECLINED) throw new UserError(UserErrorCode.INVALID_INPUT, 'This handover was declined.', 'input.handoverId');
      const offer = locked.offer;
      const patientId = 'patientId' in choice ? await existingPatient(log, organisationId, choice.patientId) : await createdPatient(log, deps, organisationId, locked);
      const channel = log.em.create(Channel, { organisationId, kind: ChannelKind.CONVERSATION, patientId, title: offer.title, createdByTeamMemberId: actor.teamMemberId });
      await log.em.flush();
      await addMembers(log, organisationId, channel.id, [...(await patientAndGuardians(log.em, organisationId, patientId)), { teamMemberId: actor.teamMemberId }]);
      for (const [index, sent] of offer.transcript.entries()) {
        const sentAt = new Date(sent.sentAt);
        // The patient's own words stay theirs; the other clinic's show its name.
        const message = sent.fromPatient
          ? await patientMessage(log, organisationId, channel.id, patientId, sent.body, sentAt)
          : await remoteMessage(log, organisationId, channel.id, { authorName: sent.authorName, clinicName: locked.remoteClinicName, body: sent.body, sentAt }, false);
        for (const copy of copies.get(String(index)) ?? []) {
          await log.em.execute(
            `insert into attachment (organisation_id, id, uploaded_by_team_member_id, purpose, file_name, declared_type, declared_bytes, content_type, size_bytes, status, storage_key, message_id, uploaded_at)
             values (?, ?, ?, 'MESSAGE', ?, ?, ?, ?, ?, 'READY', ?, ?, now())`,
            [organisationId, copy.attachmentId, actor.teamMemberId, copy.fileName, copy.contentType, copy.bytes, copy.contentType, copy.bytes, copy.storageKey, message.id],
          );
        }
      }
      const consent = `${offer.consent.method.toLowerCase()} consent attested by ${offer.consent.attestedBy} on ${offer.consent.obtainedAt.slice(0, 10)}`;
      await systemNote(log, organisationId, channel.id, `This conversation was handed over from ${locked.remoteClinicName} (${consent}). Its earlier messages are above.`, { notify: true });
      if (missing.length > 0) {
        const note = `${missing.length === 1 ? 'A file' : `${missing.length} files`} of the handover did not arrive intact and ${missing.length === 1 ? 'was' : 'were'} left out (${missing.join(', ')}); ask ${locked.remoteClinicName} to send ${missing.length === 1 ? 'it' : 'them'} again.`;
        await systemNote(log, organisationId, channel.id, note, { internal: true });
      }
      await systemNote(log, organisationId, locked.clinicChannelId, `${decidedBy} accepted the handover.`);
      locked.status = HandoverStatus.ACCEPTED;
      locked.patientId = patientId;
      locked.channelId = channel.id;
      locked.decidedAt = new Date();
      locked.decidedByTeamMemberId = actor.teamMemberId;
      await log.em.flush();
      await queueEnvelope(log.em, organisationId, locked.remoteClinicSlug, { kind: 'HANDOVER_ACCEPTED', thread: locked.thread, decidedBy });
      acceptedNow = true;
      return locked;
    });
    if (!acceptedNow) await discardCopies();
    return handover;
  } catch (error) {
    await discardCopies();
    throw error;
  }
}

async function existingPatient(log: EventLogTransaction, organisationId: string, patientId: string): Promise<string> {
  const patient = await log.em.findOne(Patient, { organisationId, id: patientId, archivedAt: null });
  if (!patient) throw new UserError(UserErrorCode.NOT_FOUND, 'No such patient.', 'input.patientId');
  return patient.id;
}

/** A new patient record from what the sending clinic shared (the activation rules apply to them, as to any new patient). */
async function createdPatient(log: EventLogTransaction, deps: { applyToNewPatient: (log: EventLogTransaction, organisationId: string, patientId: string) => Promise<void> }, organisationId: string, handover: Handover): Promise<string> {
  const shared = handover.offer.patient;
  const taken = shared.sharedIdentifier ? await log.em.findOne(Patient, { organisationId, sharedIdentifier: shared.sharedIdentifier }) : null;
  const patient = log.em.create(Patient, {
    organisationId,
    externalId: `handover:${handover.thread}`,
    name: shared.name,
    email: shared.email,
    phone: shared.phone,
    sharedIdentifier: taken ? null : shared.sharedIdentifier,
  });
  await log.em.flush();
  await deps.applyToNewPatient(log, organisationId, patient.id);
  return patient.id;
}
