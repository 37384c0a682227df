import { z } from 'zod';
import type { RequestScope } from '../../graphql/context';
import { isPerson, requirePerson, requireStaff, type PersonActor, type StaffActor } from '../../auth/actor';
import { ApiErrorCode, UserError, UserErrorCode, apiError, forbidden } from '../../errors';
import { isUuid, parseInput, uuid } from '../../common/validation';
import { connectionOf, type Connection } from '../../common/graphql-types';
import { withEventLog, type EventLogTransaction } from '../../realtime/event-log';
import { Patient } from '../directory/patient.entity';
import { Channel, ChannelKind, ChannelMember } from './channel.entity';
import { channelPolicy } from '../../policy/channels';
import { answersPatients } from '../../policy/responders';
import { channelFromSelected, channelWithPage, channelWithPatient, incomingConversations, type IncomingConversation } from './channel.queries';
import { preparedRows } from '../../db/prepared';
import { selectColumns } from '../../db/sql';
import { messagePageKey, messagePageQuery } from '../messages/message.queries';
import type { PageRequest } from '../../common/pagination';
import type { CursorCodec } from '../../common/cursor';
import { can } from '../../policy/permissions';
import { addMembers, patientAndGuardians } from './membership';
import type { EventBus } from '../../realtime/bus';
import type { MessagingSettingsService } from '../settings/messaging-settings.service';

const activateInput = z.object({
  patientId: uuid('The patient id'),
  kind: z.nativeEnum(ChannelKind).refine(channelPolicy.isActivatable, {
    message: 'Only CARE_TEAM, SERVICE_TEAM and STAFF channels are activated from a patient.',
    params: { code: UserErrorCode.UNSUPPORTED_CHANNEL_KIND },
  }),
});

export const channelInput = z.object({ channelId: uuid('The channel id') });

export interface ChannelFilter {
  kind?: ChannelKind | null;
  patientId?: string | null;
  /** true: only channels the caller archived; otherwise only the others (archived ones are listed separately). */
  archived?: boolean | null;
}

/** A channel the caller may see, with the caller's membership when they have one. */
export interface VisibleChannel {
  channel: Channel;
  membership?: ChannelMember;
}

/** What ChannelService works with besides the request. */
export interface ChannelServiceDeps {
  bus: EventBus;
  cursors: CursorCodec;
  settings: MessagingSettingsService;
}

export class ChannelService {
  private answering?: Promise<boolean>;

  constructor(private readonly scope: RequestScope, private readonly deps: ChannelServiceDeps) {}

  /** Does the caller answer patient-started conversations (the messaging settings' responders or role group)? Once per operation. */
  answersPatients(): Promise<boolean> {
    const actor = this.scope.actor;
    if (actor?.kind !== 'staff') return Promise.resolve(false);
    return (this.answering ??= this.deps.settings.current().then((settings) => answersPatients(actor, settings)));
  }

  private person(): PersonActor {
    return requirePerson(this.scope.actor);
  }

  private staff(): StaffActor {
    return requireStaff(this.scope.actor);
  }

  /** The channel if the caller may see it; undefined for a channel that is hidden or absent alike. */
  async findVisible(channelId: string, pageAhead?: PageRequest): Promise<VisibleChannel | undefined> {
    const actor = this.scope.actor;
    if (!isPerson(actor)) return undefined;
    if (!isUuid(channelId)) return undefined;
    if (pageAhead) await this.readAhead(actor, channelId, pageAhead);
    const { channel, membership } = await this.scope.loaders.channelAccess.load(channelId);
    if (!channel) return undefined;
    const answers = channelPolicy.turnsOnResponders(actor, channel, membership) && (await this.answersPatients());
    return channelPolicy.canSee(actor, channel, membership, answers) ? { channel, membership } : undefined;
  }

  /**
   * The channel if the caller may read it: a member who may take part, or a team member who may
   * open a conversation a patient started to answer it (see `channelPolicy.canOpenToAnswer`).
   */
  async findOpenable(channelId: string): Promise<VisibleChannel | undefined> {
    const participating = await this.findParticipating(channelId);
    if (participating) return participating;
    const visible = await this.findVisible(channelId);
    if (!visible || !channelPolicy.turnsOnResponders(this.scope.actor, visible.channel, visible.membership)) return undefined;
    return channelPolicy.canOpenToAnswer(this.scope.actor, visible.channel, await this.answersPatients()) ? visible : undefined;
  }

  /**
   * Reads the channel, the caller's membership and the page of messages the operation asks for
   * next in one statement, for the loaders (and MessageService.page) to answer from.
   */
  private async readAhead(person: PersonActor, channelId: string, request: PageRequest): Promise<void> {
    const { loaders } = this.scope;
    const query = messagePageQuery(this.deps.cursors, { id: channelId, organisationId: person.organisationId }, request, null);
    // A cursor of another channel is the page's own error to report, when it is read.
    if (!query) return;
    const found = await channelWithPage(this.scope.db, person, channelId, query);
    loaders.channelAccess.prime(channelId, { channel: found.channel, membership: found.membership });
    loaders.channel.prime(channelId, found.channel);
    loaders.myMembership.prime(channelId, found.membership);
    if (found.messages) loaders.readAhead.set(messagePageKey(query), found.messages);
  }

  /** The channel if the caller is a member who may take part; otherwise undefined. */
  async findParticipating(channelId: string): Promise<Required<VisibleChannel> | undefined> {
    const visible = await this.findVisible(channelId);
    if (!visible?.membership) return undefined;
    return channelPolicy.canParticipate(this.scope.actor, visible.channel, visible.membership) ? (visible as Required<VisibleChannel>) : undefined;
  }

  /**
   * `findParticipating` for a write: a team member's message to a patient channel is checked
   * against the patient and their guardians, read in the same statement as the channel.
   */
  async findParticipatingToWrite(channelId: string): Promise<Required<VisibleChannel> | undefined> {
    const actor = this.scope.actor;
    if (actor?.kind === 'staff' && isUuid(channelId)) {
      const { loaders } = this.scope;
      const found = await channelWithPatient(this.scope.db, actor, channelId);
      loaders.channelAccess.prime(channelId, { channel: found.channel, membership: found.membership });
      loaders.channel.prime(channelId, found.channel);
      loaders.myMembership.prime(channelId, found.membership);
      if (found.channel?.patientId && found.membership) loaders.patientWithGuardians.prime(found.channel.patientId, found.patient ?? { guardians: [] });
    }
    return this.findParticipating(channelId);
  }

  /** The caller's channels, most recent activity first. */
  async listMine(filter: ChannelFilter, limit: number, after?: string) {
    const actor = this.person();
    const cursor = after !== undefined ? this.deps.cursors.keyset.decode(after) : undefined;
    if (after !== undefined && !cursor) throw invalidCursor();
    const mine = channelPolicy.sql.ownMemberships(actor, 'c', 'm');
    const params: unknown[] = [actor.organisationId, ...mine.params];
    const conditions = [
      'c.organisation_id = ?',
      mine.sql,
      'm.left_at is null',
      filter.archived ? 'm.archived_at is not null' : 'm.archived_at is null',
    ];
    if (filter.kind) {
      conditions.push('c.kind = ?');
      params.push(filter.kind);
    }
    if (filter.patientId) {
      if (!isUuid(filter.patientId)) return connectionOf<Channel>([], () => '');
      conditions.push('c.patient_id = ?');
      params.push(filter.patientId);
    }
    if (cursor) {
      conditions.push('(c.last_activity_at, c.id) < (?::timestamptz, ?::uuid)');
      params.push(cursor.at.toISOString(), cursor.id);
    }
    const rows = await preparedRows<Record<string, unknown>[]>(
      this.scope.db,
      `select ${selectColumns(this.scope.db, Channel, 'c')} from channel c
         join channel_member m on m.organisation_id = c.organisation_id and m.channel_id = c.id
        where ${conditions.join(' and ')}
        order by c.last_activity_at desc, c.id desc
        limit ?`,
      [...params, limit + 1],
    );
    const channels = rows.slice(0, limit).map(channelFromSelected);
    return connectionOf(channels, (channel) => this.deps.cursors.keyset.encode(channel.lastActivityAt, channel.id), {
      hasNextPage: rows.length > limit,
      hasPreviousPage: false,
    });
  }

  /**
   * Activates a patient's CARE_TEAM, SERVICE_TEAM or STAFF channel and makes the caller a
   * member. Activating again returns the same channel. The patient joins their own patient
   * channels; never a STAFF one.
   */
  async activate(input: unknown): Promise<Channel> {
    const actor = this.staff();
    const { patientId, kind } = parseInput(activateInput, input);
    const { organisationId } = actor;
    const patient = await this.scope.em.findOne(Patient, { organisationId, id: patientId, archivedAt: null });
    if (!patient) throw new UserError(UserErrorCode.NOT_FOUND, 'No such patient.', 'input.patientId');

    const channel = await withEventLog(this.scope, this.deps.bus, organisationId, actor, async (log) => {
      const channelId = await this.findOrCreatePatientChannel(log, patientId, kind, actor.teamMemberId);
      // The patient (with their guardians) joins their own patient-side channel, never a STAFF one.
      const patientSide = channelPolicy.patientStays(kind) ? await patientAndGuardians(log.em, organisationId, patientId) : [];
      await addMembers(log, organisationId, channelId, [...patientSide, { teamMemberId: actor.teamMemberId }]);
      return log.em.findOneOrFail(Channel, { organisationId, id: channelId }, { refresh: true });
    });
    this.scope.loaders.forgetMembership(channel.id);
    return channel;
  }

  /** A team member joins an active patient channel they can see. Joining twice changes nothing. */
  async join(input: unknown): Promise<Channel> {
    const actor = this.staff();
    const { channelId } = parseInput(channelInput, input);
    const visible = await this.findVisible(channelId);
    const answers = visible !== undefined && channelPolicy.turnsOnResponders(actor, visible.channel, visible.membership) && (await this.answersPatients());
    if (!visible || !channelPolicy.canJoin(actor, visible.channel, answers)) {
      throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    }
    if (visible.membership) return visible.channel;
    await withEventLog(this.scope, this.deps.bus, actor.organisationId, actor, (log) =>
      addMembers(log, actor.organisationId, channelId, [{ teamMemberId: actor.teamMemberId }]),
    );
    this.scope.loaders.forgetMembership(channelId);
    return visible.channel;
  }

  private async findOrCreatePatientChannel(log: EventLogTransaction, patientId: string, kind: ChannelKind, creatorId: string): Promise<string> {
    const { organisationId } = this.staff();
    // Concurrent activations of the same channel meet at the unique index; both get its id.
    const rows = await log.em.execute<{ id: string }[]>(
      `with inserted as (
         insert into channel (organisation_id, id, kind, patient_id, created_by_team_member_id)
         values (?, gen_random_uuid(), ?, ?, ?)
         on conflict (organisation_id, patient_id, kind) where kind in ('CARE_TEAM', 'SERVICE_TEAM', 'STAFF') do nothing
         returning id)
       select id from inserted
       union all
       select id from channel where organisation_id = ? and patient_id = ? and kind = ?`,
      [organisationId, kind, patientId, creatorId, organisationId, patientId, kind],
    );
    if (rows.length > 0) return rows[0].id;
    // The row a concurrent activation committed is newer than this statement's snapshot.
    const existing = await log.em.findOneOrFail(Channel, { organisationId, patientId, kind });
    return existing.id;
  }

  /**
   * Patient channels left without an active team member, oldest first, so that messaging admins
   * can staff them (MESSAGING_ADMIN).
   */
  async listUnstaffed(limit: number, after?: string): Promise<Connection<Channel>> {
    const actor = requireStaff(this.scope.actor);
    if (!can(actor, 'listUnstaffedChannels')) throw forbidden();
    const cursor = after !== undefined ? this.deps.cursors.keyset.decode(after) : undefined;
    if (after !== undefined && !cursor) throw invalidCursor();
    const rows = await preparedRows<Record<string, unknown>[]>(
      this.scope.db,
      `select ${selectColumns(this.scope.db, Channel, 'c')} from channel c where c.organisation_id = ? and c.unstaffed_since is not null
         ${cursor ? 'and (c.unstaffed_since, c.id) > (?::timestamptz, ?::uuid)' : ''}
       order by c.unstaffed_since, c.id limit ?`,
      [actor.organisationId, ...(cursor ? [cursor.at.toISOString(), cursor.id] : []), limit + 1],
    );
    const channels = rows.slice(0, limit).map(channelFromSelected);
    return connectionOf(channels, (channel) => this.deps.cursors.keyset.encode(channel.unstaffedSince!, channel.id), { hasNextPage: rows.length > limit, hasPreviousPage: false });
  }

  /**
   * Conversations patients started that wait for a team member's first answer, newest first:
   * every one for those who answer patients and messaging admins, otherwise those the caller is
   * a member of. Staff only.
   */
  async listIncoming(limit: number, after?: string): Promise<Connection<IncomingConversation>> {
    const actor = this.staff();
    const cursor = after !== undefined ? this.deps.cursors.keyset.decode(after) : undefined;
    if (after !== undefined && !cursor) throw invalidCursor();
    const everyone = can(actor, 'findAnyConversation') || (await this.answersPatients());
    const rows = await incomingConversations(this.scope.db, actor, everyone, cursor, limit + 1);
    return connectionOf(rows.slice(0, limit), (row) => this.deps.cursors.keyset.encode(row.waitingSince, row.channel.id), { hasNextPage: rows.length > limit, hasPreviousPage: false });
  }

  /** Members in joining order; the pages of every channel of a list come from one query. */
  async members(channel: Channel, limit: number, after?: string): Promise<Connection<ChannelMember>> {
    const cursor = after !== undefined ? this.deps.cursors.keyset.decode(after) : undefined;
    if (after !== undefined && !cursor) throw invalidCursor();
    const rows = await this.scope.loaders.channelMembers.page({ limit, after: cursor }).load(channel.id);
    return connectionOf(rows.slice(0, limit), (member) => this.deps.cursors.keyset.encode(member.joinedAt, member.id), {
      hasNextPage: rows.length > limit,
      hasPreviousPage: false,
    });
  }
}

export const invalidCursor = () => apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid; start again from the first page.');
