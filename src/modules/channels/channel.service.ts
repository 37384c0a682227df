import { z } from 'zod';
import type { Context } from '../../graphql/context';
import type { PersonActor, StaffActor } from '../../auth/actor';
import { ApiErrorCode, UserError, UserErrorCode, apiError, forbidden } from '../../errors';
import { parseInput, uuid } from '../../common/validation';
import { connectionOf, type Connection } from '../../common/graphql-types';
import { timeIdCursor } from '../../common/cursor';
import { withEventLog, type EventLogTransaction } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import { Patient } from '../directory/patient.entity';
import { Channel, ChannelKind, ChannelMember } from './channel.entity';
import { channelAccess } from './channel-access';

const ACTIVATABLE = [ChannelKind.CARE_TEAM, ChannelKind.SERVICE_TEAM, ChannelKind.STAFF] as const;

const activateInput = z.object({
  patientId: uuid('The patient id'),
  kind: z.nativeEnum(ChannelKind).refine((kind) => (ACTIVATABLE as readonly ChannelKind[]).includes(kind), {
    message: 'Only CARE_TEAM, SERVICE_TEAM and STAFF channels are activated from a patient.',
    params: { code: UserErrorCode.UNSUPPORTED_CHANNEL_KIND },
  }),
});

const joinInput = z.object({ channelId: uuid('The channel id') });

export interface ChannelFilter {
  kind?: ChannelKind | null;
  patientId?: string | null;
}

/** A channel the caller may see, with the caller's membership when they have one. */
export interface VisibleChannel {
  channel: Channel;
  membership?: ChannelMember;
}

export class ChannelService {
  constructor(private readonly context: Context) {}

  private person(): PersonActor {
    const actor = this.context.actor;
    if (actor?.kind !== 'staff' && actor?.kind !== 'patient') throw forbidden();
    return actor;
  }

  private staff(): StaffActor {
    const actor = this.context.actor;
    if (actor?.kind !== 'staff') throw forbidden();
    return actor;
  }

  /** The channel if the caller may see it; undefined for a channel that is hidden or absent alike. */
  async findVisible(channelId: string): Promise<VisibleChannel | undefined> {
    const actor = this.context.actor;
    if (actor?.kind !== 'staff' && actor?.kind !== 'patient') return undefined;
    if (!uuid('id').safeParse(channelId).success) return undefined;
    const channel = await this.context.loaders.channel.load(channelId);
    if (!channel) return undefined;
    const membership = await this.context.loaders.myMembership.load(channelId);
    return channelAccess.canSee(actor, channel, membership) ? { channel, membership } : undefined;
  }

  /** The channel if the caller is a member who may take part; otherwise undefined. */
  async findParticipating(channelId: string): Promise<Required<VisibleChannel> | undefined> {
    const visible = await this.findVisible(channelId);
    if (!visible?.membership) return undefined;
    return channelAccess.canParticipate(this.context.actor, visible.channel, visible.membership) ? (visible as Required<VisibleChannel>) : undefined;
  }

  /** The caller's channels, most recent activity first. */
  async listMine(filter: ChannelFilter, limit: number, after?: string) {
    const actor = this.person();
    const cursor = after !== undefined ? timeIdCursor.decode(after) : undefined;
    if (after !== undefined && !cursor) throw invalidCursor();
    const params: unknown[] = [actor.organisationId, actor.kind === 'staff' ? actor.teamMemberId : actor.patientId];
    const conditions = [
      'c.organisation_id = ?',
      actor.kind === 'staff' ? 'm.team_member_id = ?' : "m.patient_id = ? and c.kind <> 'STAFF' and c.kind <> 'DIRECT'",
    ];
    if (filter.kind) {
      conditions.push('c.kind = ?');
      params.push(filter.kind);
    }
    if (filter.patientId) {
      if (!uuid('id').safeParse(filter.patientId).success) return connectionOf<Channel>([], () => '');
      conditions.push('c.patient_id = ?');
      params.push(filter.patientId);
    }
    if (cursor) {
      conditions.push('(c.last_activity_at, c.id) < (?::timestamptz, ?::uuid)');
      params.push(cursor.at.toISOString(), cursor.id);
    }
    const rows = await this.context.em.execute<Record<string, unknown>[]>(
      `select c.* from channel c
         join channel_member m on m.organisation_id = c.organisation_id and m.channel_id = c.id
        where ${conditions.join(' and ')}
        order by c.last_activity_at desc, c.id desc
        limit ?`,
      [...params, limit + 1],
    );
    const channels = rows.slice(0, limit).map((row) => this.context.em.map(Channel, row));
    return connectionOf(channels, (channel) => timeIdCursor.encode(channel.lastActivityAt, channel.id), {
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
    const patient = await this.context.em.findOne(Patient, { organisationId, id: patientId, archivedAt: null });
    if (!patient) throw new UserError(UserErrorCode.NOT_FOUND, 'No such patient.', 'input.patientId');

    const channel = await withEventLog(this.context.em, this.context.deps.bus, organisationId, actor, async (log) => {
      const channelId = await this.findOrCreatePatientChannel(log, patientId, kind, actor.teamMemberId);
      if (kind !== ChannelKind.STAFF) await this.addMember(log, channelId, { patientId });
      await this.addMember(log, channelId, { teamMemberId: actor.teamMemberId });
      return log.em.findOneOrFail(Channel, { organisationId, id: channelId }, { refresh: true });
    });
    this.context.loaders.myMembership.clear(channel.id);
    return channel;
  }

  /** A team member joins an active patient channel they can see. Joining twice changes nothing. */
  async join(input: unknown): Promise<Channel> {
    const actor = this.staff();
    const { channelId } = parseInput(joinInput, input);
    const visible = await this.findVisible(channelId);
    if (!visible || !channelAccess.canJoin(actor, visible.channel)) {
      throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    }
    if (visible.membership) return visible.channel;
    await withEventLog(this.context.em, this.context.deps.bus, actor.organisationId, actor, (log) =>
      this.addMember(log, channelId, { teamMemberId: actor.teamMemberId }),
    );
    this.context.loaders.myMembership.clear(channelId);
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

  /** Adds a member unless already present, recording MEMBER_JOINED. */
  private async addMember(log: EventLogTransaction, channelId: string, who: { teamMemberId?: string; patientId?: string }): Promise<void> {
    const { organisationId } = this.staff();
    const column = who.teamMemberId ? 'team_member_id' : 'patient_id';
    const rows = await log.em.execute<{ id: string }[]>(
      `insert into channel_member (organisation_id, id, channel_id, ${column})
       values (?, gen_random_uuid(), ?, ?)
       on conflict (organisation_id, channel_id, ${column}) where ${column} is not null do nothing
       returning id`,
      [organisationId, channelId, who.teamMemberId ?? who.patientId],
    );
    if (rows.length === 1) await log.append({ channelId, type: ChannelEventType.MEMBER_JOINED, memberId: rows[0].id });
  }

  /** Members in joining order. */
  async members(channel: Channel, limit: number, after?: string): Promise<Connection<ChannelMember>> {
    const where: Record<string, unknown> = { organisationId: channel.organisationId, channelId: channel.id };
    if (after !== undefined) {
      const cursor = timeIdCursor.decode(after);
      if (!cursor) throw invalidCursor();
      where.$or = [{ joinedAt: { $gt: cursor.at } }, { joinedAt: cursor.at, id: { $gt: cursor.id } }];
    }
    const rows = await this.context.em.find(ChannelMember, where, { orderBy: { joinedAt: 'asc', id: 'asc' }, limit: limit + 1 });
    return connectionOf(rows.slice(0, limit), (member) => timeIdCursor.encode(member.joinedAt, member.id), {
      hasNextPage: rows.length > limit,
      hasPreviousPage: false,
    });
  }
}

const invalidCursor = () => apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid; start again from the first page.');
