import type { EntityManager } from '@mikro-orm/postgresql';
import { preparedRows } from '../../db/prepared';
import { isPerson, type Actor } from '../../auth/actor';
import { selectColumns, typedRow, uuidArray } from '../../db/sql';
import { messagePolicy } from '../../policy/messages';
import { Message } from './message.entity';
import type { Channel } from '../channels/channel.entity';
import type { CursorCodec } from '../../common/cursor';
import type { PageRequest } from '../../common/pagination';

/** The newest top-level message of each channel that the caller may see (internal notes for staff only), in one query. */
export async function lastMessages(em: EntityManager, actor: Actor | undefined, channelIds: readonly string[]): Promise<Array<Message | undefined>> {
  if (!isPerson(actor)) return channelIds.map(() => undefined);
  const visible = messagePolicy.sql.visibleTo(actor, 'm');
  const rows = await preparedRows<Record<string, unknown>[]>(em,
    `select m.* from unnest(?::uuid[]) as c(id) cross join lateral (
       select m.* from message m
        where m.organisation_id = ? and m.channel_id = c.id and m.parent_message_id is null${visible.sql}
        order by m.seq desc limit 1) m`,
    [uuidArray(channelIds), actor.organisationId, ...visible.params],
  );
  const messages = rows.map((row) => em.map(Message, row));
  return channelIds.map((id) => messages.find((message) => message.channelId === id));
}

/** An earlier body of a message and who replaced it. */
export interface MessageRevision {
  body: string;
  replacedAt: Date;
  teamMemberId: string | null;
  patientId: string | null;
}

/** Earlier bodies of each message id, oldest first (staff-only data: the resolver asks the message policy who sees it). */
export async function revisionsOf(em: EntityManager, organisationId: string, messageIds: readonly string[]): Promise<MessageRevision[][]> {
  const rows = await preparedRows<Array<{ message_id: string; body: string; replaced_at: string; replaced_by_team_member_id: string | null; replaced_by_patient_id: string | null }>>(em,
    `select message_id, body, replaced_at, replaced_by_team_member_id, replaced_by_patient_id from message_revision
      where organisation_id = ? and message_id = any(?::uuid[]) order by replaced_at, id`,
    [organisationId, uuidArray(messageIds)],
  );
  return messageIds.map((id) =>
    rows
      .filter((row) => row.message_id === id)
      .map((row) => ({ body: row.body, replacedAt: new Date(row.replaced_at), teamMemberId: row.replaced_by_team_member_id, patientId: row.replaced_by_patient_id })),
  );
}

/** A person as a pair of ids, one of them null. */
export interface PersonIds {
  teamMemberId: string | null;
  patientId: string | null;
}

/** Who replied in each thread (top-level message id) that the caller can see, first reply first; internal replies for staff only. */
export async function threadParticipantsOf(em: EntityManager, actor: Actor | undefined, messageIds: readonly string[]): Promise<PersonIds[][]> {
  if (!isPerson(actor)) return messageIds.map(() => []);
  const visible = messagePolicy.sql.visibleTo(actor, 'm');
  const rows = await preparedRows<Array<{ parent_message_id: string; author_team_member_id: string | null; author_patient_id: string | null }>>(em,
    `select m.parent_message_id, m.author_team_member_id, m.author_patient_id from message m
      where m.organisation_id = ? and m.parent_message_id = any(?::uuid[]) and not m.system${visible.sql}
      group by m.parent_message_id, m.author_team_member_id, m.author_patient_id
      order by m.parent_message_id, min(m.seq)`,
    [actor.organisationId, uuidArray(messageIds), ...visible.params],
  );
  return messageIds.map((id) =>
    rows.filter((row) => row.parent_message_id === id).map((row) => ({ teamMemberId: row.author_team_member_id, patientId: row.author_patient_id })),
  );
}


const MESSAGE_KINDS = {
  dates: ['lastReplyAt', 'lastInternalReplyAt', 'editedAt', 'deletedAt', 'createdAt'],
  numbers: ['seq', 'replyCount', 'internalReplyCount'],
};

/**
 * A message row selected with `selectColumns(…, Message, …)` as a Message, without the ORM's unit
 * of work: read paths that only present messages (pages) skip hydration, change tracking and the
 * identity map.
 */
export const messageFromSelected = (row: Record<string, unknown>) => typedRow<Message>(row, MESSAGE_KINDS);

export interface MessagePageQuery {
  organisationId: string;
  channelId: string;
  /** The thread's first message, or null for the channel's top-level messages. */
  parentMessageId: string | null;
  /** Only messages after (forward) or before this sequence number. */
  boundary?: number;
  forward: boolean;
  limit: number;
}

/**
 * The query for a Relay page request of a channel (or of the thread under `parentMessageId`);
 * undefined when the request's cursor is not one of this channel's.
 */
export function messagePageQuery(cursors: CursorCodec, channel: Pick<Channel, 'id' | 'organisationId'>, request: PageRequest, parentMessageId: string | null): MessagePageQuery | undefined {
  const raw = request.direction === 'forward' ? request.after : request.before;
  let boundary: number | undefined;
  if (raw !== undefined) {
    const position = cursors.decode(raw);
    if (!position || position.channelId !== channel.id) return undefined;
    boundary = position.seq;
  }
  // One more than asked for: it says whether there is another page.
  return { organisationId: channel.organisationId, channelId: channel.id, parentMessageId, boundary, forward: request.direction === 'forward', limit: request.limit + 1 };
}

/** The statement of a page (`?` placeholders), to run alone or inside a larger one. */
export function messagePageSql(em: EntityManager, reader: Actor | undefined, query: MessagePageQuery): { sql: string; params: unknown[] } {
  const visible = messagePolicy.sql.visibleTo(reader, 'm');
  return {
    sql: `select ${selectColumns(em, Message, 'm')} from message m
      where m.organisation_id = ? and m.channel_id = ? and m.parent_message_id ${query.parentMessageId ? '= ?' : 'is null'}${visible.sql}
        ${query.boundary !== undefined ? `and m.seq ${query.forward ? '>' : '<'} ?` : ''}
      order by m.seq ${query.forward ? 'asc' : 'desc'} limit ?`,
    params: [
      query.organisationId,
      query.channelId,
      ...(query.parentMessageId ? [query.parentMessageId] : []),
      ...visible.params,
      ...(query.boundary !== undefined ? [query.boundary] : []),
      query.limit,
    ],
  };
}

/** Identifies a page query: a page read ahead (with its channel) is found again by it. */
export const messagePageKey = (query: MessagePageQuery) =>
  `${query.channelId}|${query.parentMessageId ?? ''}|${query.boundary ?? ''}|${query.forward ? 'f' : 'b'}|${query.limit}`;

/** Up to `limit` messages of a channel or thread the reader may see, in sequence order from the boundary (keyset). */
export async function messagePage(em: EntityManager, reader: Actor | undefined, query: MessagePageQuery): Promise<Message[]> {
  const { sql, params } = messagePageSql(em, reader, query);
  const rows = await preparedRows<Record<string, unknown>[]>(em, sql, params);
  return rows.map(messageFromSelected);
}
