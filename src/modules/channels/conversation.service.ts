import { z } from 'zod';
import type { RequestScope } from '../../graphql/context';
import type { Config } from '../../config';
import { requirePerson, requireStaff, type PersonActor } from '../../auth/actor';
import { UserError, UserErrorCode } from '../../errors';
import { messageBody, parseInput, perConfig, requiredText, uuid } from '../../common/validation';
import { withEventLog, type EventLogTransaction } from '../../realtime/event-log';
import { channelPolicy } from '../../policy/channels';
import type { ClinicService } from '../clinics/clinic.service';
import { lockChannelState, type ChannelState } from './channel-state';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import { TeamMember } from '../directory/team-member.entity';
import { Patient } from '../directory/patient.entity';
import { assertActivePeople } from '../directory/active-people';
import { appendMessage } from '../messages/message.service';
import { AttachmentService } from '../attachments/attachment.service';
import { ChartDocumentService, chartDocumentIds } from '../chart/chart-document.service';
import { autoReply } from '../messages/auto-reply';
import { assertUrgencyAllowed, responseDueChange, stopResponseDue } from '../escalation/response-due';
import { URGENCIES } from '../escalation/due-time';
import type { Message } from '../messages/message.entity';
import { entitlementBlockers, MessagingBlocker, notMessageable, patientBlockers } from '../settings/messageability';
import { Channel, ChannelKind, ChannelStatus } from './channel.entity';
import { addMembers, patientAndGuardians, type NewMember } from './membership';
import { uuidArray } from '../../db/sql';
import type { ChannelService } from './channel.service';
import type { EventBus } from '../../realtime/bus';
import type { MessagingSettingsService } from '../settings/messaging-settings.service';
import type { TemplateService } from '../templates/template.service';
import type { RateLimits } from '../rate-limits/rate-limits';

const MAX_RECIPIENTS = 50;
const channelInput = z.object({ channelId: uuid('The channel id') });

/** What ConversationService works with besides the request. */
export interface ConversationServiceDeps {
  rateLimits: RateLimits;
  config: Config;
  bus: EventBus;
  settings: MessagingSettingsService;
  attachments: AttachmentService;
  chartDocuments: ChartDocumentService;
  templates: TemplateService;
  channels: ChannelService;
  clinics: ClinicService;
}

/**
 * Titled conversations with one patient: started by staff (To: chosen team members, the patient
 * and their guardians added automatically) or, where the settings allow, by the patient (the
 * organisation's responders added), closed and reopened by staff.
 */
const startInput = perConfig((config: Config) =>
  z
      .object({
      patientId: uuid('The patient id').nullish(),
      title: requiredText('The title', 200),
      body: messageBody(config.limits.messageBodyChars, true).nullish().transform((body) => body ?? ''),
      templateId: uuid('The template id').nullish(),
      urgency: z.enum(URGENCIES).nullish().transform((urgency) => urgency ?? 'ROUTINE'),
      recipientTeamMemberIds: z
        .array(uuid('A team member id'))
        .max(MAX_RECIPIENTS)
        .nullish()
        .transform((ids) => [...new Set(ids ?? [])]),
      patientCanReply: z.boolean().nullish(),
      attachmentIds: z
        .array(uuid('An attachment id'))
        .max(10)
        .nullish()
        .transform((ids) => [...new Set(ids ?? [])]),
      chartDocumentIds: chartDocumentIds(),
    })
      .refine((data) => data.body.trim().length > 0 || data.templateId, { message: 'The message body must not be empty.', path: ['body'] })
      .refine((data) => !(data.templateId && data.body.trim().length > 0), { message: 'Give a body or a template, not both.', path: ['templateId'] }),
);

const updateInput = z.object({
  channelId: uuid('The channel id'),
  title: requiredText('The title', 200).nullish(),
  patientCanReply: z.boolean().nullish(),
});

export class ConversationService {

  constructor(
    private readonly scope: RequestScope,
    private readonly deps: ConversationServiceDeps,
  ) {}

  async start(input: unknown): Promise<{ channel: Channel; message: Message }> {
    const actor = requirePerson(this.scope.actor);
    const data = parseInput(startInput(this.deps.config), input);
    await this.deps.rateLimits.consumeFor('conversationStart', actor);
    const settings = await this.deps.settings.current();
    if (!(await this.deps.settings.canStartConversation(actor))) {
      throw new UserError(UserErrorCode.NOT_ALLOWED_TO_START, 'The messaging settings do not let you start conversations.');
    }
    assertUrgencyAllowed(settings, actor, data.urgency);
    const { organisationId } = actor;
    const plan = actor.kind === 'staff' ? await this.staffPlan(actor.teamMemberId, data) : await this.patientPlan(actor, data);
    const patient = plan.patient;
    await this.deps.attachments.checkAttachable(actor, data.attachmentIds);
    await this.deps.chartDocuments.checkAttachable(actor, { kind: ChannelKind.CONVERSATION, patientId: patient.id }, data.chartDocumentIds, data.attachmentIds.length);
    const body = data.templateId ? await this.deps.templates.render(data.templateId, patient.id) : data.body;
    const channelAndMessage = await withEventLog(this.scope, this.deps.bus, organisationId, actor, async (log) => {
      const channel = log.em.create(Channel, {
        organisationId,
        kind: ChannelKind.CONVERSATION,
        patientId: patient.id,
        title: data.title,
        patientCanReply: actor.kind === 'patient' ? true : (data.patientCanReply ?? settings.patientCanReplyDefault),
        createdByTeamMemberId: actor.kind === 'staff' ? actor.teamMemberId : null,
        startedByPatient: actor.kind === 'patient',
        unstaffedSince: plan.staff.length === 0 ? new Date() : null,
      });
      await log.em.flush();
      const patientSide = await patientAndGuardians(log.em, organisationId, patient.id);
      // A guardian writing for a dependant must still be linked now that the links are locked.
      if (plan.onBehalfOfPatientId && actor.kind === 'patient' && !patientSide.some((member) => member.patientId === actor.patientId)) {
        throw new UserError(UserErrorCode.NOT_FOUND, 'No such patient.', 'input.patientId');
      }
      await addMembers(log, organisationId, channel.id, [...patientSide, ...plan.staff]);
      const responseDue = responseDueChange(settings, actor, ChannelKind.CONVERSATION, { urgency: data.urgency }, new Date());
      const message = await appendMessage(log, actor, { channelId: channel.id, body, onBehalfOfPatientId: plan.onBehalfOfPatientId, urgency: data.urgency, responseDue });
      await AttachmentService.attach(log, organisationId, message.id, data.attachmentIds);
      if (data.chartDocumentIds.length) await ChartDocumentService.attach(log, requireStaff(actor), message.id, data.chartDocumentIds);
      await autoReply(this.deps.settings, log, actor, channel, true);
      return { channelId: channel.id, message };
    });
    if (plan.staff.length === 0) {
      this.scope.logger.warn({ channelId: channelAndMessage.channelId }, 'patient conversation started with no responder: flagged unstaffed for messaging admins');
    }
    this.scope.reset();
    const channel = await this.scope.loaders.channel.load(channelAndMessage.channelId);
    if (!channel) throw new Error('conversation vanished after it was written');
    return { channel, message: channelAndMessage.message };
  }

  /** Staff start: the patient must be messageable; the caller and the named team members join. */
  private async staffPlan(teamMemberId: string, data: { patientId?: string | null; recipientTeamMemberIds: string[] }) {
    const actor = requireStaff(this.scope.actor);
    if (!data.patientId) throw new UserError(UserErrorCode.INVALID_INPUT, 'Name the patient.', 'input.patientId');
    const patient = await this.scope.em.findOne(Patient, { organisationId: actor.organisationId, id: data.patientId, archivedAt: null });
    if (!patient) throw new UserError(UserErrorCode.NOT_FOUND, 'No such patient.', 'input.patientId');
    const blockers = patientBlockers(patient, await this.scope.loaders.guardians.load(patient.id), await this.deps.settings.current());
    if (blockers.length > 0) throw notMessageable(actor, blockers, 'input.patientId');
    await assertActivePeople(this.scope.em, actor.organisationId, TeamMember, data.recipientTeamMemberIds, 'input.recipientTeamMemberIds');
    const staff: NewMember[] = [...new Set([teamMemberId, ...data.recipientTeamMemberIds])].map((id) => ({ teamMemberId: id }));
    return { patient, staff, onBehalfOfPatientId: null };
  }

  /**
   * Patient start: for themself, or as a guardian for a dependant. The organisation's selected
   * responders join; when every team member responds, the allocation clinician does. With nobody,
   * the conversation is flagged unstaffed for the messaging admins.
   */
  private async patientPlan(actor: Extract<PersonActor, { kind: 'patient' }>, data: { patientId?: string | null; recipientTeamMemberIds: string[] }) {
    const { organisationId } = actor;
    if (data.recipientTeamMemberIds.length > 0) {
      throw new UserError(UserErrorCode.INVALID_INPUT, "Patients write to the clinic's responders; they do not choose recipients.", 'input.recipientTeamMemberIds');
    }
    const patientId = data.patientId ?? actor.patientId;
    if (patientId !== actor.patientId) {
      const link = await this.scope.em.execute('select 1 from patient_guardian where organisation_id = ? and guardian_patient_id = ? and dependant_patient_id = ?', [
        organisationId,
        actor.patientId,
        patientId,
      ]);
      if (link.length === 0) throw new UserError(UserErrorCode.NOT_FOUND, 'No such patient.', 'input.patientId');
    }
    const [me, patient] = await Promise.all([
      this.scope.em.findOne(Patient, { organisationId, id: actor.patientId, archivedAt: null }),
      this.scope.em.findOne(Patient, { organisationId, id: patientId, archivedAt: null }),
    ]);
    if (!me || !patient) throw new UserError(UserErrorCode.NOT_FOUND, 'No such patient.', 'input.patientId');
    const settings = await this.deps.settings.current();
    const blockers = [...entitlementBlockers(patient, settings), ...(me.portalAccess ? [] : [MessagingBlocker.NO_PORTAL_ACCESS])];
    if (blockers.length > 0) throw notMessageable(actor, blockers, 'input.patientId');
    const candidates = settings.allStaffRespond ? (patient.allocationClinicianId ? [patient.allocationClinicianId] : []) : settings.responderIds;
    const active = candidates.length
      ? await this.scope.em.execute<Array<{ id: string }>>('select id from team_member where organisation_id = ? and id = any(?::uuid[]) and archived_at is null', [
          organisationId,
          uuidArray(candidates),
        ])
      : [];
    return { patient, staff: active.map((row) => ({ teamMemberId: row.id })), onBehalfOfPatientId: patientId === actor.patientId ? null : patientId };
  }

  /** Closes a conversation: patients can no longer reply (CHANNEL_CLOSED). Staff members of it. Closing again changes nothing. */
  async close(input: unknown): Promise<Channel> {
    const closedBy = requireStaff(this.scope.actor).teamMemberId;
    let crossed = false;
    const closed = await this.change(
      input,
      ChannelEventType.CHANNEL_CLOSED,
      (current) => (current.status === ChannelStatus.CLOSED ? undefined : { status: ChannelStatus.CLOSED, closed_at: new Date(), closed_by_team_member_id: closedBy }),
      // A conversation with another clinic: the other clinic is told its copy was closed here.
      async (log, channel) => {
        await stopResponseDue(log.em, channel.organisationId, channel.id);
        if (!channelPolicy.crossesClinics(channel.kind)) return;
        await this.deps.clinics.forwardClose(log, channel);
        crossed = true;
      },
    );
    if (crossed) this.deps.clinics.sent();
    return closed;
  }

  /** Reopens a closed conversation. Staff members of it. */
  reopen(input: unknown): Promise<Channel> {
    return this.change(input, ChannelEventType.CHANNEL_UPDATED, (current) =>
      current.status === ChannelStatus.ACTIVE ? undefined : { status: ChannelStatus.ACTIVE, closed_at: null, closed_by_team_member_id: null },
    );
  }

  /** Renames a conversation or turns patient replies on or off. Staff members of it. */
  async update(input: unknown): Promise<Channel> {
    const data = parseInput(updateInput, input);
    return this.change(data, ChannelEventType.CHANNEL_UPDATED, (current) => {
      const changes: Record<string, unknown> = {};
      if (data.title != null && data.title !== current.title) changes.title = data.title;
      if (data.patientCanReply != null && data.patientCanReply !== current.patientCanReply) changes.patient_can_reply = data.patientCanReply;
      return Object.keys(changes).length ? changes : undefined;
    });
  }

  /**
   * Applies a change to a conversation the caller (staff) takes part in, with its event. The
   * change is decided on the row as it is under its lock, so concurrent changes apply one after
   * the other; nothing is written when nothing changes.
   */
  private async change(
    input: unknown,
    type: ChannelEventType,
    changesFor: (current: ChannelState) => Record<string, unknown> | undefined,
    alsoWhenChanged?: (log: EventLogTransaction, channel: Channel) => Promise<void>,
  ): Promise<Channel> {
    const actor = requireStaff(this.scope.actor);
    const { channelId } = parseInput(channelInput, input);
    const found = await this.deps.channels.findParticipating(channelId);
    if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    if (found.channel.kind !== ChannelKind.CONVERSATION && !channelPolicy.crossesClinics(found.channel.kind)) {
      throw new UserError(UserErrorCode.UNSUPPORTED_CHANNEL_KIND, 'Only conversations are closed, reopened or retitled.', 'input.channelId');
    }
    await withEventLog(this.scope, this.deps.bus, actor.organisationId, actor, async (log) => {
      const changes = changesFor(await lockChannelState(log, actor.organisationId, channelId));
      if (!changes) return;
      const seq = await log.nextSeq(channelId);
      const columns = Object.keys(changes);
      await log.em.execute(`update channel set ${columns.map((column) => `${column} = ?`).join(', ')} where organisation_id = ? and id = ?`, [
        ...columns.map((column) => changes[column]),
        actor.organisationId,
        channelId,
      ]);
      await log.append({ channelId, type }, seq);
      await alsoWhenChanged?.(log, found.channel);
    });
    this.scope.reset();
    return (await this.scope.loaders.channel.load(channelId))!;
  }
}
