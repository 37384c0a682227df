import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { RequestScope } from '../../graphql/context';
import { requireStaff, type StaffActor } from '../../auth/actor';
import { apiError, ApiErrorCode, forbidden, UserError, UserErrorCode } from '../../errors';
import { parseInput, requiredText, uuid } from '../../common/validation';
import { connectionOf, type Connection } from '../../common/graphql-types';
import type { CursorCodec } from '../../common/cursor';
import { uuidArray } from '../../db/sql';
import { can } from '../../policy/permissions';
import { withEventLog, type EventLogTransaction } from '../../realtime/event-log';
import type { ActivationRuleService } from '../channels/activation-rules.service';
import type { EventBus } from '../../realtime/bus';
import type { FileStore } from '../attachments/file-store';
import { ChannelKind } from '../channels/channel.entity';
import type { ChannelService } from '../channels/channel.service';
import { Patient } from '../directory/patient.entity';
import type { HandoverOffer } from './clinic-envelope';
import { queueEnvelope } from './clinic-outbox';
import type { ClinicService } from './clinic.service';
import { acceptHandover, openClinicThread, systemNote } from './handover-steps';
import { copyToTransfer } from './transfer-files';
import { ConsentMethod, Handover, HandoverDirection, HandoverStatus } from './handover.entity';

export interface HandoverServiceDeps {
  cursors: CursorCodec;
  bus: EventBus;
  files: FileStore;
  channels: ChannelService;
  clinics: ClinicService;
  activationRules: ActivationRuleService;
  relay: { kick(): void };
}

const offerInput = z.object({
  channelId: uuid('The conversation id'),
  clinicSlug: requiredText("The clinic's slug", 63),
  messageIds: z
    .array(uuid('A message id'))
    .min(1, 'Choose at least one message to go with the handover.')
    .max(500)
    .transform((ids) => [...new Set(ids)]),
  attachmentIds: z
    .array(uuid('An attachment id'))
    .max(100)
    .nullish()
    .transform((ids) => (ids ? new Set(ids) : null)),
  consent: z.object({
    obtainedAt: z.coerce.date().refine((date) => !Number.isNaN(date.getTime()) && date.getTime() <= Date.now() + 60_000, 'Consent is recorded once it was given (not in the future).'),
    method: z.nativeEnum(ConsentMethod),
    attestedByTeamMemberId: uuid('The attesting team member id').nullish(),
  }),
  note: requiredText('The note', 2_000).nullish(),
});

const acceptInput = z
  .object({
    handoverId: uuid('The handover id'),
    patientId: uuid('The patient id').nullish(),
    createPatient: z.boolean().nullish(),
  })
  .refine((data) => !(data.patientId && data.createPatient), { message: 'Choose a patient or create one, not both.', path: ['patientId'] });

const declineInput = z.object({ handoverId: uuid('The handover id'), reason: requiredText('The reason', 1_000) });

interface Transcribed {
  id: string;
  body: string;
  created_at: Date;
  internal: boolean;
  deleted_at: Date | null;
  system: boolean;
  author_name: string | null;
  from_patient: boolean;
  remote_author_name: string | null;
}

/**
 * Handing a patient conversation over to another clinic, with the messages and files the team
 * member chose and the patient's consent recorded. The receiving clinic's responders accept it
 * (matching the patient to a record of theirs, or creating one: a new conversation with the
 * transcript appears there) or decline it with a reason. All or nothing and at most once: each
 * step is one transaction on its side, envelopes cross through the outbox, and a repeat (a retried
 * request, a redelivered envelope) finds the step done.
 */
export class HandoverService {
  constructor(
    private readonly scope: RequestScope,
    private readonly deps: HandoverServiceDeps,
  ) {}

  async offer(input: unknown): Promise<Handover> {
    const actor = requireStaff(this.scope.actor);
    const data = parseInput(offerInput, input);
    const { organisationId } = actor;
    const found = await this.deps.channels.findParticipating(data.channelId);
    if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such conversation.', 'input.channelId');
    const source = found.channel;
    if (source.kind !== ChannelKind.CONVERSATION || !source.patientId) {
      throw new UserError(UserErrorCode.UNSUPPORTED_CHANNEL_KIND, 'Only a conversation with a patient is handed over.', 'input.channelId');
    }
    const pending = await this.scope.em.findOne(Handover, { organisationId, direction: HandoverDirection.OUTGOING, channelId: source.id, status: { $in: [HandoverStatus.PENDING, HandoverStatus.ACCEPTED] } });
    if (pending) {
      // A retry of the same offer finds it; anything else waits for it to be decided.
      if (pending.status === HandoverStatus.PENDING && pending.remoteClinicSlug === data.clinicSlug) return pending;
      throw new UserError(UserErrorCode.INVALID_INPUT, pending.status === HandoverStatus.ACCEPTED ? 'This conversation was handed over already.' : 'A handover of this conversation is waiting for an answer.', 'input.channelId');
    }
    const clinic = await this.deps.clinics.accepting(actor, data.clinicSlug);
    const patient = await this.scope.em.findOne(Patient, { organisationId, id: source.patientId });
    if (!patient) throw new UserError(UserErrorCode.NOT_FOUND, 'No such conversation.', 'input.channelId');
    const attester = await this.scope.loaders.teamMember.load(data.consent.attestedByTeamMemberId ?? actor.teamMemberId);
    if (!attester || attester.archivedAt) throw new UserError(UserErrorCode.NOT_FOUND, 'No such team member.', 'input.consent.attestedByTeamMemberId');
    const offeredBy = await this.deps.clinics.authorNameOf(actor);
    const transcript = await this.transcript(actor, source.id, data.messageIds, data.attachmentIds);
    // Copies in the transfer area of an offer that does not commit (or loses to another) go at once.
    const discardTransfers = () => Promise.all(transcript.flatMap((sent) => sent.files).map((file) => this.deps.files.remove(file.transferKey).catch(() => undefined)));
    const offer: HandoverOffer = {
      title: source.title ?? 'Conversation',
      note: data.note ?? null,
      offeredBy,
      patient: { name: patient.name, email: patient.email ?? null, phone: patient.phone ?? null, sharedIdentifier: patient.sharedIdentifier ?? null },
      consent: { attestedBy: attester.name, obtainedAt: data.consent.obtainedAt.toISOString(), method: data.consent.method },
      transcript,
    };
    const thread = randomUUID();
    try {
      const handover = await withEventLog(this.scope, this.deps.bus, organisationId, actor, async (log) => {
        const clinicChannelId = await openClinicThread(log, organisationId, { slug: clinic.slug, name: clinic.name }, thread, `Handover: ${offer.title}`, { patientId: patient.id, startedBy: actor.teamMemberId });
        const created = log.em.create(Handover, {
          organisationId,
          direction: HandoverDirection.OUTGOING,
          thread,
          remoteClinicSlug: clinic.slug,
          remoteClinicName: clinic.name,
          channelId: source.id,
          clinicChannelId,
          offer,
          consentAttestedBy: attester.name,
          consentObtainedAt: data.consent.obtainedAt,
          consentMethod: data.consent.method,
          createdByTeamMemberId: actor.teamMemberId,
        });
        await log.em.flush();
        // Staff only: the patient learns of the other clinic when the handover they consented to reaches it.
        await systemNote(log, organisationId, source.id, `${offeredBy} offered to hand this conversation over to ${clinic.name}; waiting for them to accept.`, { internal: true });
        await systemNote(log, organisationId, clinicChannelId, `${offeredBy} offered ${clinic.name} this conversation with ${patient.name} (${transcript.length} messages).${offer.note ? `\n\n${offer.note}` : ''}`);
        await queueEnvelope(log.em, organisationId, clinic.slug, { kind: 'HANDOVER_OFFERED', thread, offer });
        return created;
      });
      this.deps.relay.kick();
      return handover;
    } catch (error) {
      await discardTransfers();
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
      // The same offer twice at once: the loser answers with the winner's when it is the same offer.
      this.scope.em.clear();
      const winner = await this.scope.em.findOne(Handover, { organisationId, direction: HandoverDirection.OUTGOING, channelId: source.id, status: HandoverStatus.PENDING });
      if (!winner) throw error;
      if (winner.remoteClinicSlug !== clinic.slug) throw new UserError(UserErrorCode.INVALID_INPUT, 'A handover of this conversation is waiting for an answer.', 'input.channelId');
      return winner;
    }
  }

  /** The chosen messages as they travel, oldest first, with their chosen files copied to the transfer area. Internal notes never go. */
  private async transcript(actor: StaffActor, channelId: string, messageIds: string[], attachmentIds: Set<string> | null): Promise<HandoverOffer['transcript']> {
    const rows = await this.scope.em.execute<Transcribed[]>(
      `select m.id, m.body, m.created_at, m.internal, m.deleted_at, m.system, m.remote_author_name,
              coalesce(tm.name, p.name) as author_name, m.author_patient_id is not null as from_patient
         from message m
         left join team_member tm on tm.organisation_id = m.organisation_id and tm.id = m.author_team_member_id
         left join patient p on p.organisation_id = m.organisation_id and p.id = m.author_patient_id
        where m.organisation_id = ? and m.channel_id = ? and m.id = any(?::uuid[])
        order by m.seq`,
      [actor.organisationId, channelId, uuidArray(messageIds)],
    );
    if (rows.length !== messageIds.length || rows.some((row) => row.deleted_at)) throw new UserError(UserErrorCode.NOT_FOUND, 'No such message in this conversation.', 'input.messageIds');
    if (rows.some((row) => row.internal)) throw new UserError(UserErrorCode.INVALID_INPUT, 'Internal notes stay here: the transcript goes to a conversation the patient sees.', 'input.messageIds');
    const files = await this.scope.em.execute<Array<{ id: string; message_id: string; file_name: string; content_type: string; size_bytes: string; storage_key: string }>>(
      `select id, message_id, file_name, content_type, size_bytes, storage_key from attachment
        where organisation_id = ? and message_id = any(?::uuid[]) and status = 'READY'
          -- A withdrawn chart document stays here only as long as the withdrawal policy says: it does not travel.
          and not exists (select 1 from chart_document d where d.organisation_id = attachment.organisation_id and d.id = attachment.chart_document_id and d.status = 'WITHDRAWN')
        order by created_at, id`,
      [actor.organisationId, uuidArray(messageIds)],
    );
    const chosen = attachmentIds ? files.filter((file) => attachmentIds.has(file.id)) : files;
    if (attachmentIds && chosen.length !== attachmentIds.size) throw new UserError(UserErrorCode.NOT_FOUND, 'No such attachment of the chosen messages.', 'input.attachmentIds');
    const transferred = new Map<string, HandoverOffer['transcript'][number]['files']>();
    for (const file of chosen) {
      const transferKey = await copyToTransfer(this.deps.files, file.storage_key, Number(file.size_bytes));
      transferred.set(file.message_id, [...(transferred.get(file.message_id) ?? []), { fileName: file.file_name, contentType: file.content_type, size: Number(file.size_bytes), transferKey }]);
    }
    return rows.map((row) => ({
      authorName: row.author_name ?? row.remote_author_name ?? 'The clinic',
      fromPatient: row.from_patient,
      body: row.body,
      sentAt: new Date(row.created_at).toISOString(),
      files: transferred.get(row.id) ?? [],
    }));
  }

  /** Those who answer patients, and messaging admins, decide incoming handovers. */
  private async decider(): Promise<StaffActor> {
    const actor = requireStaff(this.scope.actor);
    if (!(can(actor, 'findAnyConversation') || (await this.deps.channels.answersPatients()))) {
      throw new UserError(UserErrorCode.FORBIDDEN, 'Handovers are accepted or declined by those who answer patients, or messaging admins.', 'input.handoverId');
    }
    return actor;
  }

  private async incoming(actor: StaffActor, handoverId: string): Promise<Handover> {
    const handover = await this.scope.em.findOne(Handover, { organisationId: actor.organisationId, id: handoverId, direction: HandoverDirection.INCOMING });
    if (!handover) throw new UserError(UserErrorCode.NOT_FOUND, 'No such handover.', 'input.handoverId');
    return handover;
  }

  /**
   * Accepts an incoming handover: the patient is the one chosen, the one whose shared identifier
   * matches, or a new record (createPatient); a conversation with the transcript and its files
   * appears, the patient is told, and the sending clinic closes its conversation for the patient.
   * Accepting again returns the same handover.
   */
  async accept(input: unknown): Promise<Handover> {
    const actor = await this.decider();
    const data = parseInput(acceptInput, input);
    const handover = await this.incoming(actor, data.handoverId);
    if (handover.status === HandoverStatus.ACCEPTED) return handover;
    if (handover.status === HandoverStatus.DECLINED) throw new UserError(UserErrorCode.INVALID_INPUT, 'This handover was declined.', 'input.handoverId');
    const patientChoice = data.patientId
      ? { patientId: data.patientId }
      : data.createPatient
        ? { create: true as const }
        : await this.matched(actor, handover);
    const applyToNewPatient = (log: EventLogTransaction, organisationId: string, patientId: string) => this.deps.activationRules.applyToNewPatient(log, organisationId, patientId, null);
    const accepted = await acceptHandover(this.scope, { bus: this.deps.bus, files: this.deps.files, applyToNewPatient }, actor, handover.id, patientChoice, await this.deps.clinics.authorNameOf(actor));
    this.deps.relay.kick();
    return accepted;
  }

  private async matched(actor: StaffActor, handover: Handover): Promise<{ patientId: string }> {
    const match = await this.suggestedPatient(actor.organisationId, handover);
    if (!match) throw new UserError(UserErrorCode.INVALID_INPUT, 'No patient here has the shared identifier of this one: choose the patient (patientId) or create one (createPatient).', 'input.patientId');
    return { patientId: match.id };
  }

  /** The patient of this organisation whose shared identifier is the handed-over patient's, if any. */
  async suggestedPatient(organisationId: string, handover: Handover): Promise<Patient | null> {
    const identifier = handover.offer.patient.sharedIdentifier;
    return identifier ? this.scope.em.findOne(Patient, { organisationId, sharedIdentifier: identifier, archivedAt: null }) : null;
  }

  /** Declines an incoming handover with a reason the sending clinic is told. Declining again changes nothing. */
  async decline(input: unknown): Promise<Handover> {
    const actor = await this.decider();
    const data = parseInput(declineInput, input);
    const found = await this.incoming(actor, data.handoverId);
    if (found.status === HandoverStatus.DECLINED) return found;
    const decidedBy = await this.deps.clinics.authorNameOf(actor);
    const handover = await withEventLog(this.scope, this.deps.bus, actor.organisationId, actor, async (log) => {
      const locked = await log.em.findOne(Handover, { organisationId: actor.organisationId, id: found.id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (!locked) throw new UserError(UserErrorCode.NOT_FOUND, 'No such handover.', 'input.handoverId');
      if (locked.status === HandoverStatus.DECLINED) return locked;
      if (locked.status === HandoverStatus.ACCEPTED) throw new UserError(UserErrorCode.INVALID_INPUT, 'This handover was accepted.', 'input.handoverId');
      locked.status = HandoverStatus.DECLINED;
      locked.declineReason = data.reason;
      locked.decidedAt = new Date();
      locked.decidedByTeamMemberId = actor.teamMemberId;
      await log.em.flush();
      await systemNote(log, actor.organisationId, locked.clinicChannelId, `${decidedBy} declined the handover: ${data.reason}`);
      await queueEnvelope(log.em, actor.organisationId, locked.remoteClinicSlug, { kind: 'HANDOVER_DECLINED', thread: locked.thread, decidedBy, reason: data.reason });
      return locked;
    });
    this.deps.relay.kick();
    return handover;
  }

  /**
   * Handovers of the organisation, newest first: INCOMING ones for those who answer patients and
   * messaging admins, OUTGOING ones for messaging admins and for those who offered them.
   */
  async list(direction: HandoverDirection, status: HandoverStatus | null | undefined, limit: number, after: string | null | undefined): Promise<Connection<Handover>> {
    const actor = requireStaff(this.scope.actor);
    const admin = can(actor, 'findAnyConversation');
    if (direction === HandoverDirection.INCOMING && !admin && !(await this.deps.channels.answersPatients())) throw forbidden();
    const cursor = after != null ? this.deps.cursors.keyset.decode(after) : undefined;
    if (after != null && !cursor) throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid; start again from the first page.');
    const rows = await this.scope.em.execute(
      `select * from handover where organisation_id = ? and direction = ?
          ${status ? 'and status = ?' : ''}
          ${direction === HandoverDirection.OUTGOING && !admin ? 'and created_by_team_member_id = ?' : ''}
          ${cursor ? "and (date_trunc('milliseconds', created_at), id) < (?::timestamptz, ?::uuid)" : ''}
        order by date_trunc('milliseconds', created_at) desc, id desc limit ?`,
      [
        actor.organisationId,
        direction,
        ...(status ? [status] : []),
        ...(direction === HandoverDirection.OUTGOING && !admin ? [actor.teamMemberId] : []),
        ...(cursor ? [cursor.at.toISOString(), cursor.id] : []),
        limit + 1,
      ],
    );
    const handovers = rows.slice(0, limit).map((row) => this.scope.em.map(Handover, row));
    return connectionOf(handovers, (handover) => this.deps.cursors.keyset.encode(handover.createdAt, handover.id), { hasNextPage: rows.length > limit, hasPreviousPage: false });
  }
}
