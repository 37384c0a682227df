import type { CursorCodec } from '../../common/cursor';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { RequestScope } from '../../graphql/context';
import type { Config } from '../../config';
import { requireStaff, type StaffActor } from '../../auth/actor';
import { apiError, ApiErrorCode, UserError, UserErrorCode } from '../../errors';
import { messageBody, parseInput, perConfig, requiredText, uuid } from '../../common/validation';
import { connectionOf, type Connection } from '../../common/graphql-types';
import { withEventLog, type EventLogTransaction } from '../../realtime/event-log';
import type { EventBus } from '../../realtime/bus';
import { assertActivePeople } from '../directory/active-people';
import { TeamMember } from '../directory/team-member.entity';
import { Patient } from '../directory/patient.entity';
import type { Channel } from '../channels/channel.entity';
import { appendMessage } from '../messages/message.service';
import type { Message } from '../messages/message.entity';
import type { MessagingSettingsService } from '../settings/messaging-settings.service';
import type { RateLimits } from '../rate-limits/rate-limits';
import { queueEnvelope } from './clinic-outbox';
import { openClinicThread } from './handover-steps';

/** A clinic as other clinics find it: its name and slug, nothing else. */
export interface Clinic {
  slug: string;
  name: string;
}

/** What ClinicService works with besides the request. */
export interface ClinicServiceDeps {
  config: Config;
  cursors: CursorCodec;
  bus: EventBus;
  rateLimits: RateLimits;
  settings: MessagingSettingsService;
  /** Relays envelopes soon after they were committed. */
  relay: { kick(): void };
}

const startInput = perConfig((config: Config) =>
  z.object({
    clinicSlug: requiredText("The clinic's slug", 63),
    title: requiredText('The title', 200),
    body: messageBody(config.limits.messageBodyChars),
    patientId: uuid('The patient id').nullish(),
    recipientTeamMemberIds: z
      .array(uuid('A team member id'))
      .max(50)
      .nullish()
      .transform((ids) => [...new Set(ids ?? [])]),
  }),
);

/**
 * Conversations between clinics on the platform. Each clinic keeps its own copy (a CLINIC
 * channel of its own organisation); what one side writes crosses to the other as an envelope
 * (clinic-outbox, clinic-relay, clinic-receiver), so no organisation ever reads another's rows.
 */
export class ClinicService {
  constructor(
    private readonly scope: RequestScope,
    private readonly deps: ClinicServiceDeps,
  ) {}

  /** Clinics that accept conversations from other clinics (not the caller's own), by name; optionally those whose name or slug contains `search`. */
  async directory(search: string | null | undefined, limit: number, after: string | null | undefined): Promise<Connection<Clinic>> {
    const actor = requireStaff(this.scope.actor);
    const cursor = after != null ? this.deps.cursors.decodeSortKey(after, 2) : undefined;
    if (after != null && !cursor) throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid; start again from the first page.');
    const text = search?.trim();
    if (text && text.length > 100) throw apiError(ApiErrorCode.BAD_USER_INPUT, 'Search for at most 100 characters.');
    const pattern = text ? `%${text.replace(/[\\%_]/g, (character) => `\\${character}`)}%` : undefined;
    const rows = await this.scope.db.execute<Clinic[]>(
      `select o.slug, o.name from organisation o join messaging_settings s on s.organisation_id = o.id
        where s.clinics_can_start_conversations and o.id <> ?
          ${pattern ? `and (o.name ilike ? escape '\\' or o.slug ilike ? escape '\\')` : ''}
          ${cursor ? 'and (o.name, o.slug) > (?, ?)' : ''}
        order by o.name, o.slug limit ?`,
      [actor.organisationId, ...(pattern ? [pattern, pattern] : []), ...(cursor ?? []), limit + 1],
    );
    return connectionOf(rows.slice(0, limit), (clinic) => this.deps.cursors.encodeSortKey([clinic.name, clinic.slug]), { hasNextPage: rows.length > limit, hasPreviousPage: false });
  }

  /** The clinic a slug names, if it accepts conversations from other clinics and is not the caller's own. */
  async accepting(actor: StaffActor, slug: string): Promise<Clinic> {
    const [clinic] = await this.scope.db.execute<Clinic[]>(
      `select o.slug, o.name from organisation o join messaging_settings s on s.organisation_id = o.id
        where o.slug = ? and o.id <> ? and s.clinics_can_start_conversations`,
      [slug, actor.organisationId],
    );
    if (!clinic) throw new UserError(UserErrorCode.NOT_FOUND, 'No such clinic accepts conversations from other clinics (see clinicDirectory).', 'input.clinicSlug');
    return clinic;
  }

  /**
   * Starts a titled conversation with another clinic, optionally about one of the organisation's
   * patients (the other clinic learns the patient's name, nothing else). The caller and the named
   * colleagues are its members here; the other clinic's responders answer it there.
   */
  async start(input: unknown): Promise<{ channel: Channel; message: Message }> {
    const actor = requireStaff(this.scope.actor);
    const data = parseInput(startInput(this.deps.config), input);
    await this.deps.rateLimits.consumeFor('conversationStart', actor);
    if (!(await this.deps.settings.canStartConversation(actor))) {
      throw new UserError(UserErrorCode.NOT_ALLOWED_TO_START, 'The messaging settings do not let you start conversations.');
    }
    const clinic = await this.accepting(actor, data.clinicSlug);
    const patient = data.patientId ? await this.scope.em.findOne(Patient, { organisationId: actor.organisationId, id: data.patientId, archivedAt: null }) : undefined;
    if (data.patientId && !patient) throw new UserError(UserErrorCode.NOT_FOUND, 'No such patient.', 'input.patientId');
    await assertActivePeople(this.scope.em, actor.organisationId, TeamMember, data.recipientTeamMemberIds, 'input.recipientTeamMemberIds');
    const authorName = await this.authorNameOf(actor);
    const thread = randomUUID();
    const { channelId, message } = await withEventLog(this.scope, this.deps.bus, actor.organisationId, actor, async (log) => {
      const channelId = await openClinicThread(log, actor.organisationId, clinic, thread, data.title, { patientId: patient?.id, startedBy: actor.teamMemberId, members: data.recipientTeamMemberIds });
      const channel = { id: channelId };
      const message = await appendMessage(log, actor, { channelId: channel.id, body: data.body, onBehalfOfPatientId: null });
      await queueEnvelope(log.em, actor.organisationId, clinic.slug, {
        kind: 'CONVERSATION_STARTED',
        thread,
        title: data.title,
        aboutPatientName: patient?.name ?? null,
        message: { authorName, body: data.body },
      });
      return { channelId: channel.id, message };
    });
    this.deps.relay.kick();
    this.scope.reset();
    const channel = await this.scope.loaders.channel.load(channelId);
    if (!channel) throw new Error('conversation vanished after it was written');
    return { channel, message };
  }

  /** How a team member of this clinic is named to the other clinic. */
  async authorNameOf(actor: StaffActor): Promise<string> {
    const member = await this.scope.loaders.teamMember.load(actor.teamMemberId);
    if (!member) throw new UserError(UserErrorCode.NOT_FOUND, 'No such team member.');
    return member.name;
  }

  /** In the transaction of a message a team member sent in a CLINIC channel: it crosses to the other clinic. */
  async forward(log: EventLogTransaction, channel: Channel, body: string): Promise<void> {
    const actor = requireStaff(this.scope.actor);
    await queueEnvelope(log.em, actor.organisationId, channel.remoteClinicSlug!, { kind: 'MESSAGE', thread: channel.remoteThreadId!, message: { authorName: await this.authorNameOf(actor), body } });
  }

  /** In the transaction that closed a CLINIC channel here: the other clinic is told. */
  async forwardClose(log: EventLogTransaction, channel: Pick<Channel, 'remoteClinicSlug' | 'remoteThreadId'>): Promise<void> {
    const actor = requireStaff(this.scope.actor);
    await queueEnvelope(log.em, actor.organisationId, channel.remoteClinicSlug!, { kind: 'CONVERSATION_CLOSED', thread: channel.remoteThreadId!, closedBy: await this.authorNameOf(actor) });
  }

  /** After the transaction of a forward committed. */
  sent(): void {
    this.deps.relay.kick();
  }
}
