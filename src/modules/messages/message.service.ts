import { createHash } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { z } from 'zod';
import type { RequestScope } from '../../graphql/context';
import { UserError, UserErrorCode, apiError, ApiErrorCode } from '../../errors';
import { isPerson, requirePerson, requireStaff, type PersonActor, type StaffActor } from '../../auth/actor';
import { assertOpenToPatients, authorizeWrite, openToPatientsSql } from './write-policy';
import { AttachmentService } from '../attachments/attachment.service';
import { ChartDocumentService, chartDocumentIds } from '../chart/chart-document.service';
import type { ClinicService } from '../clinics/clinic.service';
import { autoReply, autoReplyText } from './auto-reply';
import { channelState, lockChannelState } from '../channels/channel-state';
import { isUuid, messageBody, parseInput, perConfig, requiredText, uuid } from '../../common/validation';
import type { PageRequest } from '../../common/pagination';
import { connectionOf, type Connection } from '../../common/graphql-types';
import { eventTailCtes, publishPosition, reservedSeqCte, withEventLog, type EventLogTransaction } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import { ChannelStatus, type Channel, type ChannelMember } from '../channels/channel.entity';
import { addMembers } from '../channels/membership';
import { channelPolicy } from '../../policy/channels';
import { messagePolicy } from '../../policy/messages';
import { Message } from './message.entity';
import { messageFromSelected, messagePage, messagePageKey, messagePageQuery } from './message.queries';
import { selectColumns, textArray } from '../../db/sql';
import type { ChannelService } from '../channels/channel.service';
import type { Config } from '../../config';
import type { CursorCodec } from '../../common/cursor';
import type { EventBus } from '../../realtime/bus';
import type { MessagingSettingsService } from '../settings/messaging-settings.service';
import type { TemplateService } from '../templates/template.service';
import { preparedRows } from '../../db/prepared';
import { heldRoleGroups } from '../directory/directory.queries';
import type { RateLimits } from '../rate-limits/rate-limits';
import { messageWithAccess } from '../channels/channel.queries';
import { URGENCIES, type Urgency } from '../escalation/due-time';
import { assertUrgencyAllowed, responseDueChange, responseDueCte, type ResponseDueChange } from '../escalation/response-due';

/** What MessageService works with besides the request. */
export interface MessageServiceDeps {
  bus: EventBus;
  rateLimits: RateLimits;
  cursors: CursorCodec;
  config: Config;
  channels: ChannelService;
  attachments: AttachmentService;
  chartDocuments: ChartDocumentService;
  clinics: ClinicService;
  templates: TemplateService;
  settings: MessagingSettingsService;
}

const sendInput = perConfig((config: Config) =>
  z
      .object({
      channelId: uuid('The channel id'),
      body: messageBody(config.limits.messageBodyChars, true).nullish().transform((body) => body ?? ''),
      templateId: uuid('The template id').nullish(),
      attachmentIds: z
        .array(uuid('An attachment id'))
        .max(10, 'At most 10 attachments per message.')
        .nullish()
        .transform((ids) => [...new Set(ids ?? [])]),
      chartDocumentIds: chartDocumentIds(),
      parentMessageId: uuid('The parent message id').nullish(),
      internal: z.boolean().nullish(),
      audienceRoles: z
        .array(requiredText('A role group', 100))
        .min(1, 'Name at least one role group, or leave audienceRoles out for a note to all staff.')
        .max(20, 'At most 20 role groups.')
        .nullish()
        .transform((roles) => (roles ? [...new Set(roles)].sort() : null)),
      onBehalfOfPatientId: uuid('The dependant id').nullish(),
      urgency: z.enum(URGENCIES).nullish().transform((urgency) => urgency ?? 'ROUTINE'),
      idempotencyKey: requiredText('The idempotency key', 200).nullish(),
    })
      .refine((data) => data.body.trim().length > 0 || data.attachmentIds.length > 0 || data.chartDocumentIds.length > 0 || data.templateId, { message: 'The message body must not be empty.', path: ['body'] })
      .refine((data) => !(data.templateId && data.body.trim().length > 0), { message: 'Give a body or a template, not both.', path: ['templateId'] }),
);

/** Lists of messages newest first page after a message named by its cursor: its place in that order. */
const MESSAGE_AT_POSITION = "select date_trunc('milliseconds', p.created_at), p.id from message p where p.organisation_id = ? and p.channel_id = ? and p.seq = ?";

export class MessageService {
  constructor(
    private readonly scope: RequestScope,
    private readonly deps: MessageServiceDeps,
  ) {}

  /**
   * Sends a message to a channel the caller is a member of (a guardian writes for their
   * dependant): a thread reply with `parentMessageId`, an internal note with `internal` (staff).
   * With an `idempotencyKey`, sending again returns the original message.
   */
  async send(input: unknown): Promise<Message> {
    const actor = requirePerson(this.scope.actor);
    const data = parseInput(sendInput(this.deps.config), input);
    const { channelId, body } = data;
    if (data.idempotencyKey) {
      const original = await this.findBySenderKey(actor, data.idempotencyKey);
      if (original) return this.replay(original, data);
    }
    // After the replay: a retry of a send that went through is answered, not limited.
    await this.deps.rateLimits.consumeFor('messageSend', actor);
    const participating = await this.deps.channels.findParticipatingToWrite(channelId);
    // Not a member: a team member who answers a conversation a patient started joins as they answer.
    const answering = participating ? undefined : await this.deps.channels.findOpenable(channelId);
    const found = participating ?? answering;
    if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    const parent = data.parentMessageId ? await this.threadParent(actor, channelId, data.parentMessageId) : undefined;
    if (parent && !(await this.withinHistory(found.channel, found.membership, parent))) {
      throw new UserError(UserErrorCode.NOT_FOUND, 'No such message in this channel.', 'input.parentMessageId');
    }
    // A reply to an internal note stays internal.
    const internal = Boolean(data.internal) || Boolean(parent?.internal);
    if (internal && !messagePolicy.canWriteInternal(actor)) throw new UserError(UserErrorCode.FORBIDDEN, 'Only team members write internal notes.', 'input.internal');
    const audienceRoles = await this.noteAudience(data.audienceRoles ?? null, internal, parent);
    const audienceTeamMemberId = !audienceRoles ? null : parent ? (parent.audienceTeamMemberId ?? null) : requireStaff(actor).teamMemberId;
    if (internal && answering) {
      throw new UserError(UserErrorCode.FORBIDDEN, 'Answer the patient (or join the conversation) first: internal notes are for its members.', 'input.internal');
    }
    if (internal && !channelPolicy.holdsInternalNotes(found.channel.kind)) {
      throw new UserError(UserErrorCode.INVALID_INPUT, 'Internal notes are for channels with patients in them; everything here is staff-only already.', 'input.internal');
    }
    const crosses = channelPolicy.crossesClinics(found.channel.kind);
    if (crosses && (parent || data.attachmentIds.length || data.chartDocumentIds.length || data.templateId)) {
      throw new UserError(UserErrorCode.INVALID_INPUT, 'Messages to another clinic are text only: no threads, attachments or templates.', parent ? 'input.parentMessageId' : 'input.attachmentIds');
    }
    const attribution = await authorizeWrite(this.scope, this.deps.settings, actor, found.channel, found.membership, data.onBehalfOfPatientId, internal);
    const settings = await this.deps.settings.current();
    assertUrgencyAllowed(settings, actor, data.urgency);
    await this.deps.attachments.checkAttachable(actor, data.attachmentIds);
    await this.deps.chartDocuments.checkAttachable(actor, found.channel, data.chartDocumentIds, data.attachmentIds.length);
    const draft: MessageDraft = {
      channelId,
      body: data.templateId ? await this.deps.templates.render(data.templateId, found.channel.patientId) : body,
      onBehalfOfPatientId: attribution.onBehalfOfPatientId,
      parentMessageId: parent?.id ?? null,
      internal,
      audienceRoles,
      audienceTeamMemberId,
      urgency: data.urgency,
      responseDue: responseDueChange(settings, actor, found.channel.kind, { internal, urgency: data.urgency }, new Date()),
      idempotencyKey: data.idempotencyKey ?? null,
      requestHash: data.idempotencyKey ? requestHash(data) : null,
    };
    try {
      if (!answering && !crosses && data.attachmentIds.length === 0 && data.chartDocumentIds.length === 0 && !(await autoReplyText(this.deps.settings, actor, found.channel, false))) {
        const message = await appendMessageAtOnce(this.scope, this.deps.bus, actor, draft);
        if (message) return message;
        // Not written: the channel closed to the patient meanwhile (or vanished); say which.
        const state = await channelState(this.scope.db, actor.organisationId, channelId);
        if (state) assertOpenToPatients(state);
        throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
      }
      const sent = await withEventLog(this.scope, this.deps.bus, actor.organisationId, actor, async (log) => {
        // Checked again under the channel's lock: a message never lands after the conversation closed.
        if (actor.kind === 'patient') assertOpenToPatients(await lockChannelState(log, actor.organisationId, channelId));
        // Everything checked: the one who answers joins in the same transaction as their answer.
        if (answering) await joinToAnswer(log, requireStaff(actor), channelId);
        const message = await appendMessage(log, actor, draft);
        await AttachmentService.attach(log, actor.organisationId, message.id, data.attachmentIds);
        if (data.chartDocumentIds.length) await ChartDocumentService.attach(log, requireStaff(actor), message.id, data.chartDocumentIds);
        if (crosses) await this.deps.clinics.forward(log, found.channel, draft.body);
        await autoReply(this.deps.settings, log, actor, found.channel, false);
        return message;
      });
      if (crosses) this.deps.clinics.sent();
      if (answering) this.scope.loaders.forgetMembership(channelId);
      return sent;
    } catch (error) {
      // The same key sent twice at once: the loser returns what the winner wrote.
      if (!isUniqueViolation(error) || !data.idempotencyKey) throw error;
      this.scope.em.clear();
      const original = await this.findBySenderKey(actor, data.idempotencyKey);
      if (!original) throw error;
      return this.replay(original, data);
    }
  }

  /**
   * The role groups an internal note is addressed to: those asked for on a thread's first
   * message, each held by an active team member; a reply shares its thread's (null: all staff).
   */
  private async noteAudience(asked: string[] | null, internal: boolean, parent: Message | undefined): Promise<string[] | null> {
    const inherited = parent?.audienceRoles?.length ? [...parent.audienceRoles].sort() : null;
    if (!asked) return inherited;
    if (!internal) throw new UserError(UserErrorCode.INVALID_INPUT, 'Only an internal note is addressed to role groups: set internal: true.', 'input.audienceRoles');
    if (parent) {
      if (inherited && asked.join('\u0000') === inherited.join('\u0000')) return inherited;
      throw new UserError(UserErrorCode.INVALID_INPUT, "A reply goes to its thread's audience: leave audienceRoles out.", 'input.audienceRoles');
    }
    const held = new Set(await heldRoleGroups(this.scope.em, requireStaff(this.scope.actor).organisationId, asked));
    const unknown = asked.filter((role) => !held.has(role));
    if (unknown.length) throw new UserError(UserErrorCode.INVALID_INPUT, `No active team member has the role group ${unknown.map((role) => JSON.stringify(role)).join(', ')}.`, 'input.audienceRoles');
    return asked;
  }

  private findBySenderKey(actor: PersonActor, idempotencyKey: string): Promise<Message | null> {
    const author = actor.kind === 'staff' ? { authorTeamMemberId: actor.teamMemberId } : { authorPatientId: actor.patientId };
    return this.scope.em.findOne(Message, { organisationId: actor.organisationId, idempotencyKey, ...author });
  }

  private async replay(original: Message, data: SendData): Promise<Message> {
    if (original.requestHash !== requestHash(data)) {
      throw new UserError(UserErrorCode.IDEMPOTENCY_KEY_REUSED, 'This idempotency key was used before with different content.', 'input.idempotencyKey');
    }
    // Only while the sender can still see it (they may have left the channel since).
    if (!(await this.findVisible(original.id))) throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    return original;
  }

  /** The message a reply answers: in the same channel, visible to the caller, and not itself a reply. */
  private async threadParent(actor: PersonActor, channelId: string, parentMessageId: string): Promise<Message> {
    const parent = await this.scope.loaders.message.load(parentMessageId);
    if (!parent || parent.channelId !== channelId || !messagePolicy.canSee(actor, parent)) {
      throw new UserError(UserErrorCode.NOT_FOUND, 'No such message in this channel.', 'input.parentMessageId');
    }
    if (parent.parentMessageId) throw new UserError(UserErrorCode.REPLY_TO_REPLY, 'Threads are one level deep: reply to the first message of the thread.', 'input.parentMessageId');
    return parent;
  }

  /**
   * A page of a channel's top-level messages, or of one thread's replies, in sequence order by
   * keyset on the sequence number. Internal notes are left out for patients.
   */
  async page(channel: Channel, request: PageRequest, threadOf?: Message): Promise<Connection<Message>> {
    const cursors = this.deps.cursors;
    const query = messagePageQuery(cursors, channel, request, threadOf?.id ?? null);
    if (!query) throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid for this channel.');
    // Read ahead with the channel (channel(id) { messages }) or read now.
    const rows = this.scope.loaders.readAhead.get(messagePageKey(query)) ?? (await messagePage(this.scope.db, this.scope.actor, query));
    const more = rows.length > request.limit;
    const page = rows.slice(0, request.limit);
    if (!query.forward) page.reverse();
    return connectionOf(page, (message) => this.cursorOf(message), {
      hasNextPage: query.forward && more,
      hasPreviousPage: !query.forward && more,
    });
  }

  /** A message's own cursor (`Message.cursor`, its channel position): the edge cursor of every list of messages. */
  cursorOf(message: Pick<Message, 'channelId' | 'seq'>): string {
    return this.deps.cursors.encode({ channelId: message.channelId, seq: message.seq });
  }

  /**
   * "Messages in the patient's chart": one patient's messages across the channels about them that
   * the team member may see (their care and service teams, staff channels, the conversations they
   * are in or may find), thread replies included, as are internal notes (as addressed), newest first.
   * Deleted messages are left out (their history is in each message's revisions).
   */
  async patientHistory(patientId: string, limit: number, after?: string | null): Promise<Connection<Message>> {
    const actor = requireStaff(this.scope.actor);
    const cursor = after != null ? this.deps.cursors.decode(after) : undefined;
    if (after != null && !cursor) throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid; start again from the first page.');
    if (!isUuid(patientId)) return connectionOf([], () => '');
    const channels = channelPolicy.sql.visible(actor, 'c', await this.deps.channels.answersPatients());
    const visible = messagePolicy.sql.visibleTo(actor, 'm');
    const rows = await preparedRows<Record<string, unknown>[]>(this.scope.em,
      `select m.* from message m
         join channel c on c.organisation_id = m.organisation_id and c.id = m.channel_id
        where c.organisation_id = ? and c.patient_id = ? and ${channels.sql}
          and m.deleted_at is null${visible.sql}
          ${cursor ? `and (date_trunc('milliseconds', m.created_at), m.id) < (${MESSAGE_AT_POSITION})` : ''}
        order by date_trunc('milliseconds', m.created_at) desc, m.id desc
        limit ?`,
      [actor.organisationId, patientId, ...channels.params, ...visible.params, ...(cursor ? [actor.organisationId, cursor.channelId, cursor.seq] : []), limit + 1],
    );
    const messages = rows.slice(0, limit).map((row) => this.scope.em.map(Message, row));
    return connectionOf(messages, (message) => this.cursorOf(message), { hasNextPage: rows.length > limit, hasPreviousPage: false });
  }

  /**
   * Full-text search (PostgreSQL, English stemming, web-search syntax: words, "phrases", -not, or)
   * over the messages of the channels the caller takes part in, newest first; internal notes only
   * for staff, deleted messages never.
   */
  async search(query: string, channelId: string | null | undefined, limit: number, after?: string): Promise<Connection<Message>> {
    const actor = requirePerson(this.scope.actor);
    const text = query.trim();
    if (text.length === 0 || text.length > 200) throw apiError(ApiErrorCode.BAD_USER_INPUT, 'Search for 1 to 200 characters.');
    const cursor = after != null ? this.deps.cursors.decode(after) : undefined;
    if (after != null && !cursor) throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid; start again from the first page.');
    await this.deps.rateLimits.consumeFor('search', actor);
    if (channelId != null && !(await this.deps.channels.findParticipating(channelId))) return connectionOf([], () => '');
    // A query of stop words or exclusions only would scan every message: it needs a word to look for.
    const [{ tree }] = await this.scope.em.execute<Array<{ tree: string }>>("select querytree(websearch_to_tsquery('english', ?)) as tree", [text]);
    if (tree === 'T' || tree === '') throw apiError(ApiErrorCode.BAD_USER_INPUT, 'Search for at least one word (not only excluded or very common words).');
    const mine = channelPolicy.sql.ownMemberships(actor, 'c', 'cm');
    const visible = messagePolicy.sql.visibleTo(actor, 'm');
    const rows = await preparedRows<Record<string, unknown>[]>(this.scope.em,
      `select m.* from message m
         join channel c on c.organisation_id = m.organisation_id and c.id = m.channel_id
         join channel_member cm on cm.organisation_id = m.organisation_id and cm.channel_id = m.channel_id and ${mine.sql} and cm.left_at is null
        where m.organisation_id = ? and m.deleted_at is null${visible.sql}
          and to_tsvector('english', m.body) @@ websearch_to_tsquery('english', ?)
          ${channelId != null ? 'and m.channel_id = ?' : ''}
          ${cursor ? `and (date_trunc('milliseconds', m.created_at), m.id) < (${MESSAGE_AT_POSITION})` : ''}
        order by date_trunc('milliseconds', m.created_at) desc, m.id desc
        limit ?`,
      [
        ...mine.params,
        actor.organisationId,
        ...visible.params,
        text,
        ...(channelId != null ? [channelId] : []),
        ...(cursor ? [actor.organisationId, cursor.channelId, cursor.seq] : []),
        limit + 1,
      ],
    );
    const messages = rows.slice(0, limit).map((row) => this.scope.em.map(Message, row));
    return connectionOf(messages, (message) => this.cursorOf(message), { hasNextPage: rows.length > limit, hasPreviousPage: false });
  }

  /** A message in a channel the caller takes part in (what reactions, edits and deletes act on). */
  findVisible(messageId: string): Promise<Message | undefined> {
    return this.findIn(messageId, (channelId) => this.deps.channels.findParticipating(channelId));
  }

  /** A message the caller may read: also one of a conversation they may open to answer (`message(id)`). */
  findReadable(messageId: string): Promise<Message | undefined> {
    return this.findIn(messageId, (channelId) => this.deps.channels.findOpenable(channelId));
  }

  private async findIn(messageId: string, channelFor: (channelId: string) => Promise<unknown>): Promise<Message | undefined> {
    const actor = this.scope.actor;
    if (!isUuid(messageId) || !isPerson(actor)) return undefined;
    // The message, its channel and the caller's membership in one statement: a hidden message costs what an absent one does.
    const { loaders } = this.scope;
    const found = await messageWithAccess(this.scope.db, actor, messageId);
    const message = found.message;
    if (!message) return undefined;
    loaders.message.prime(messageId, message);
    loaders.channelAccess.prime(message.channelId, { channel: found.channel, membership: found.membership });
    if (found.channel) loaders.channel.prime(message.channelId, found.channel);
    loaders.myMembership.prime(message.channelId, found.membership);
    if (!messagePolicy.canSee(this.scope.actor, message)) return undefined;
    if (!(await channelFor(message.channelId))) return undefined;
    return found.channel && (await this.withinHistory(found.channel, found.membership, message)) ? message : undefined;
  }

  /** The first message of a reply's thread, as far as the caller sees it. */
  async parentOf(message: Message): Promise<Message | null> {
    return message.parentMessageId ? this.shownById(message.parentMessageId) : null;
  }

  /**
   * A message another one refers to (a thread's first message, an event's message), if the caller
   * sees it: its audience, and for a patient added to a group, its place in the history. Through
   * the loaders: batched for a page, answered from an event batch's rows.
   */
  async shownById(messageId: string): Promise<Message | null> {
    const { loaders } = this.scope;
    const message = await loaders.message.load(messageId);
    if (!message || !messagePolicy.canSee(this.scope.actor, message)) return null;
    const channel = await loaders.channel.load(message.channelId);
    if (!channel || !messagePolicy.historyTurnsOnJoining(this.scope.actor, channel)) return message;
    return (await this.withinHistory(channel, await loaders.myMembership.load(message.channelId), message)) ? message : null;
  }

  /** Whether a member sees this message of the channel's history (a patient added to a group: from their joining, per the settings). */
  private async withinHistory(channel: Channel, membership: ChannelMember | undefined, message: Message): Promise<boolean> {
    const actor = this.scope.actor;
    if (!messagePolicy.historyTurnsOnJoining(actor, channel)) return true;
    return messagePolicy.withinHistory(actor, channel, membership, message, (await this.deps.settings.current()).groupHistory);
  }
}

type SendData = {
  channelId: string;
  body: string;
  parentMessageId?: string | null;
  internal?: boolean | null;
  audienceRoles?: string[] | null;
  onBehalfOfPatientId?: string | null;
  attachmentIds: string[];
  chartDocumentIds: string[];
  templateId?: string | null;
  urgency?: Urgency;
};

/** What identifies a send's content for its idempotency key. */
function requestHash(data: SendData): string {
  const content = [data.channelId, data.body, data.parentMessageId ?? '', data.internal ? '1' : '0', ...(data.audienceRoles ? [data.audienceRoles] : []), data.onBehalfOfPatientId ?? '', [...data.attachmentIds].sort(), data.templateId ?? ''];
  // Appended only when present: keys stored before chart documents existed still match.
  if (data.chartDocumentIds.length) content.push([...data.chartDocumentIds].sort());
  if (data.urgency === 'URGENT') content.push('URGENT');
  return createHash('sha256').update(JSON.stringify(content)).digest('base64url');
}

export interface MessageDraft {
  channelId: string;
  body: string;
  onBehalfOfPatientId: string | null;
  parentMessageId?: string | null;
  internal?: boolean;
  /** An internal note addressed to role groups (sorted, distinct), and who wrote the thread's first note. */
  audienceRoles?: string[] | null;
  audienceTeamMemberId?: string | null;
  idempotencyKey?: string | null;
  requestHash?: string | null;
  urgency?: Urgency;
  /** What it does to the channel's response clock (escalation/response-due.ts). */
  responseDue?: ResponseDueChange;
}

/**
 * The common table expressions that write a message: `written` (the row, at the sequence number
 * of the CTE `reserved`), its notification outbox entry (notices are planned from it: committed
 * with the message or not at all) and, for a reply, its thread's count and last reply time.
 */
function messageWriteCtes(actor: PersonActor, draft: MessageDraft, createdAt: Date): { sql: string; params: unknown[] } {
  const { organisationId } = actor;
  const due = responseDueCte(draft.responseDue, organisationId, draft.channelId);
  const counters = draft.internal ? 'internal_reply_count = internal_reply_count + 1, last_internal_reply_at' : 'reply_count = reply_count + 1, last_reply_at';
  return {
    sql: `written as (
       insert into message (organisation_id, id, channel_id, seq, body, author_team_member_id, author_patient_id, on_behalf_of_patient_id,
                            parent_message_id, internal, audience_roles, audience_team_member_id, idempotency_key, request_hash, urgency, created_at)
       select ?, gen_random_uuid(), ?, reserved.seq, ?, ?, ?, ?, ?, ?, ?::text[], ?::uuid, ?, ?, ?, ? from reserved
       returning *),
     outbox as (insert into notification_outbox (organisation_id, message_id) select organisation_id, id from written)
     ${draft.parentMessageId ? `, thread as (update message set ${counters} = now() where organisation_id = ? and id = ? and exists (select 1 from written))` : ''}
     ${due.sql}`,
    params: [
      organisationId,
      draft.channelId,
      draft.body,
      actor.kind === 'staff' ? actor.teamMemberId : null,
      actor.kind === 'patient' ? actor.patientId : null,
      draft.onBehalfOfPatientId,
      draft.parentMessageId ?? null,
      draft.internal ?? false,
      draft.audienceRoles?.length ? textArray(draft.audienceRoles) : null,
      draft.audienceRoles?.length ? (draft.audienceTeamMemberId ?? null) : null,
      draft.idempotencyKey ?? null,
      draft.requestHash ?? null,
      draft.urgency ?? 'ROUTINE',
      createdAt,
      ...(draft.parentMessageId ? [organisationId, draft.parentMessageId] : []),
      ...due.params,
    ],
  };
}

/**
 * Writes a message, its MESSAGE_SENT event (staff-only for an internal note) and its notification
 * outbox entry in the caller's transaction; a reply moves its thread's count and last reply time.
 */
export async function appendMessage(log: EventLogTransaction, actor: PersonActor, draft: MessageDraft): Promise<Message> {
  // An internal note does not move the channel up in lists: a patient would see something happen.
  const reserved = log.nextSeqCte(draft.channelId, !draft.internal);
  const write = messageWriteCtes(actor, draft, new Date());
  // One statement, outside the ORM's unit of work: the sequence number, the message, its outbox entry.
  const [row] = await preparedRows<Record<string, unknown>[]>(log.em, `with ${reserved.sql}, ${write.sql} select ${selectColumns(log.em, Message, 'written')} from written`, [
    ...reserved.params,
    ...write.params,
  ]);
  if (!row) throw new Error('channel vanished during its transaction');
  const message = messageFromSelected(row);
  await log.append({ channelId: draft.channelId, type: ChannelEventType.MESSAGE_SENT, messageId: message.id, ...messagePolicy.eventAudience(message) }, message.seq);
  return message;
}

/**
 * A send that needs nothing else in its transaction (no attachments, no automatic reply) in a
 * single statement, with no transaction around it: the sequence number, the message, its outbox
 * entry, its event, the organisation's position and the audit record, then the notice. A
 * patient's message lands only while the channel is open to them (checked on the channel's
 * row, locked by the statement); undefined when it was not.
 */
async function appendMessageAtOnce(scope: RequestScope, bus: EventBus, actor: PersonActor, draft: MessageDraft): Promise<Message | undefined> {
  const reserved = reservedSeqCte(actor.organisationId, draft.channelId, !draft.internal, actor.kind === 'patient' ? openToPatientsSql : undefined);
  const write = messageWriteCtes(actor, draft, new Date());
  const tail = eventTailCtes(actor.organisationId, actor, 'written', { type: ChannelEventType.MESSAGE_SENT, ...messagePolicy.eventAudience({ internal: Boolean(draft.internal), audienceRoles: draft.audienceRoles, audienceTeamMemberId: draft.audienceTeamMemberId }) }, scope.audit.claim());
  let rows: Array<Record<string, unknown> & { event_position: string }>;
  try {
    rows = await preparedRows(scope.db, `with ${reserved.sql}, ${write.sql}, ${tail.sql} select ${selectColumns(scope.db, Message, 'written')}, counter.last_position as event_position from written, counter`, [
      ...reserved.params,
      ...write.params,
      ...tail.params,
    ]);
  } catch (error) {
    scope.audit.rolledBack();
    throw error;
  }
  if (rows.length === 0) {
    scope.audit.rolledBack();
    return undefined;
  }
  scope.audit.committed();
  const { event_position: position, ...row } = rows[0];
  await publishPosition(bus, actor.organisationId, Number(position));
  return messageFromSelected(row);
}

/** A unique index refused the row (through the ORM, or a plain statement's driver error). */
const isUniqueViolation = (error: unknown) => error instanceof UniqueConstraintViolationException || (error as { code?: string } | null)?.code === '23505';

/**
 * A team member who answers a conversation a patient started becomes one of its members
 * (MEMBER_JOINED) in the transaction of their answer, while it is open (checked under its lock).
 */
async function joinToAnswer(log: EventLogTransaction, staff: StaffActor, channelId: string): Promise<void> {
  const state = await lockChannelState(log, staff.organisationId, channelId);
  if (state.status === ChannelStatus.CLOSED) throw new UserError(UserErrorCode.CHANNEL_CLOSED, 'This conversation is closed.', 'input.channelId');
  await addMembers(log, staff.organisationId, channelId, [{ teamMemberId: staff.teamMemberId }]);
}
