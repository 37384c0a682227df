import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Context } from '../../graphql/context';
import { requirePerson, type PersonActor } from '../../auth/actor';
import { UserError, UserErrorCode } from '../../errors';
import { parseInput, uuid } from '../../common/validation';
import { withEventLog } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import type { Channel } from '../channels/channel.entity';
import { Message } from './message.entity';
import { uuidArray } from '../../db/sql';

const markReadInput = z.object({ channelId: uuid('The channel id'), messageId: uuid('The message id') });

/** A team member or patient, as an actor or a notice's recipient. */
export type PersonRef = Pick<Extract<PersonActor, { kind: 'staff' }>, 'kind' | 'teamMemberId'> | Pick<Extract<PersonActor, { kind: 'patient' }>, 'kind' | 'patientId'>;

/** The person's own column in channel_member and message, for raw SQL. */
export const personColumns = (actor: PersonRef) =>
  actor.kind === 'staff'
    ? { member: 'team_member_id', author: 'author_team_member_id', id: actor.teamMemberId }
    : { member: 'patient_id', author: 'author_patient_id', id: actor.patientId };

/** Unread counts stop at this many: a badge shows "999+", and a long unread history costs no more than this. */
export const UNREAD_COUNT_CAP = 1000;

/**
 * The unread messages of one membership row `cm` (its parameter: the person's id), up to the cap:
 * walked in sequence order on the channel's index, whatever the planner estimates for skewed
 * channels (without the ordered limit it may scan the whole table once per channel).
 */
const unreadOfMembership = (columns: ReturnType<typeof personColumns>) =>
  `(select count(*) from (select 1 from message m
     where m.organisation_id = cm.organisation_id and m.channel_id = cm.channel_id and m.seq > cm.last_read_seq
       and m.${columns.author} is distinct from ?::uuid${columns.member === 'patient_id' ? ' and not m.internal' : ''}
     order by m.seq limit ${UNREAD_COUNT_CAP}) unread)`;

/**
 * Read positions and unread counts. A member's position only moves forward; unread counts are
 * messages after it written by others, in channels the member takes part in.
 */
export class ReadStateService {
  constructor(private readonly context: Context) {}

  /**
   * Marks a channel read up to a message. Moving the position writes a READ_MARKED event that
   * only the reader is told of (their other devices update their counts).
   */
  async markRead(input: unknown): Promise<Channel> {
    const actor = requirePerson(this.context.actor);
    const { channelId, messageId } = parseInput(markReadInput, input);
    const found = await this.context.services.channels.findParticipating(channelId);
    if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    const { organisationId } = actor;
    const message = await this.context.em.findOne(Message, { organisationId, id: messageId, channelId, ...(actor.kind === 'staff' ? {} : { internal: false }) });
    if (!message) throw new UserError(UserErrorCode.NOT_FOUND, 'No such message in this channel.', 'input.messageId');
    const who = actor.kind === 'staff' ? { teamMemberId: actor.teamMemberId } : { patientId: actor.patientId };
    await withEventLog(this.context.em, this.context.deps.bus, organisationId, actor, async (log) => {
      const moved = await log.em.execute<Array<{ id: string }>>(
        `update channel_member set last_read_seq = ?, last_read_at = now()
          where organisation_id = ? and id = ? and left_at is null and last_read_seq < ? returning id`,
        [message.seq, organisationId, found.membership.id, message.seq],
      );
      if (moved.length === 0) return;
      const seq = await log.nextSeq(channelId, false);
      await log.append({ channelId, type: ChannelEventType.READ_MARKED, messageId, subject: who, subjectOnly: true }, seq);
    });
    // The membership row changed behind the identity map: read it afresh for the payload.
    this.context.reset();
    return found.channel;
  }

  /** Unread messages across the caller's channels, archived ones excluded: the badge. */
  async badgeCount(): Promise<number> {
    const actor = requirePerson(this.context.actor);
    return unreadTotal(this.context.em, actor.organisationId, actor);
  }
}

/**
 * A person's unread messages across their channels, archived ones left out (the badge); with
 * `channelId`, in that channel only; with `excludeMuted`, muted channels left out too.
 */
export async function unreadTotal(em: EntityManager, organisationId: string, person: PersonRef, options: { channelId?: string; excludeMuted?: boolean } = {}): Promise<number> {
  const columns = personColumns(person);
  const rows = await em.execute<Array<{ n: string }>>(
    `select coalesce(sum(${unreadOfMembership(columns)}), 0) as n from channel_member cm
      where cm.organisation_id = ? and cm.${columns.member} = ? and cm.left_at is null and cm.archived_at is null
        ${options.excludeMuted ? 'and (cm.muted_at is null or cm.muted_until <= now())' : ''}
        ${options.channelId ? 'and cm.channel_id = ?' : ''}`,
    [columns.id, organisationId, columns.id, ...(options.channelId ? [options.channelId] : [])],
  );
  return Number(rows[0].n);
}

/** Unread counts of many channels for one person in one query (the DataLoader's batch). */
export async function unreadCounts(context: Pick<Context, 'em' | 'actor'>, channelIds: readonly string[]): Promise<number[]> {
  const actor = context.actor;
  if (actor?.kind !== 'staff' && actor?.kind !== 'patient') return channelIds.map(() => 0);
  const columns = personColumns(actor);
  const rows = await context.em.execute<Array<{ channel_id: string; n: string }>>(
    `select cm.channel_id, ${unreadOfMembership(columns)} as n from channel_member cm
      where cm.organisation_id = ? and cm.${columns.member} = ? and cm.left_at is null and cm.channel_id = any(?::uuid[])`,
    [columns.id, actor.organisationId, columns.id, uuidArray(channelIds)],
  );
  const byChannel = new Map(rows.map((row) => [row.channel_id, Number(row.n)]));
  return channelIds.map((id) => byChannel.get(id) ?? 0);
}

/** Unread replies in many threads for one person in one query: replies by others after their channel read position. */
export async function unreadReplyCounts(context: Pick<Context, 'em' | 'actor'>, messageIds: readonly string[]): Promise<number[]> {
  const actor = context.actor;
  if (actor?.kind !== 'staff' && actor?.kind !== 'patient') return messageIds.map(() => 0);
  const columns = personColumns(actor);
  const rows = await context.em.execute<Array<{ parent_message_id: string; n: string }>>(
    `select r.parent_message_id, count(*) as n from message r
       join channel_member cm on cm.organisation_id = r.organisation_id and cm.channel_id = r.channel_id
                             and cm.${columns.member} = ? and cm.left_at is null
      where r.organisation_id = ? and r.parent_message_id = any(?::uuid[]) and r.seq > cm.last_read_seq
        and r.${columns.author} is distinct from ?::uuid${columns.member === 'patient_id' ? ' and not r.internal' : ''}
      group by r.parent_message_id`,
    [columns.id, actor.organisationId, uuidArray(messageIds), columns.id],
  );
  const byThread = new Map(rows.map((row) => [row.parent_message_id, Number(row.n)]));
  return messageIds.map((id) => byThread.get(id) ?? 0);
}
