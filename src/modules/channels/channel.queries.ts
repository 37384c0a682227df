import type { EntityManager } from '@mikro-orm/postgresql';
import { preparedRows } from '../../db/prepared';
import { isPerson, type Actor, type PersonActor } from '../../auth/actor';
import { selectColumns, typedRow, uuidArray } from '../../db/sql';
import { channelPolicy, memberColumn } from '../../policy/channels';
import { messagePolicy } from '../../policy/messages';
import { Channel as ChannelEntity, ChannelMember as ChannelMemberEntity, type Channel, type ChannelMember } from './channel.entity';
import { Message } from '../messages/message.entity';
import { messageFromSelected, messagePageSql, type MessagePageQuery } from '../messages/message.queries';
import { patientsWithGuardiansSelect, patientWithGuardiansFromSelected, type PatientWithGuardians } from '../directory/directory.queries';

/** One keyset page of a list per parent (its channels, its members): up to `limit` after a (time, id) cursor. */
export interface KeysetPage {
  limit: number;
  after?: { at: Date; id: string };
}

/**
 * Channels of patients listed on their profiles, one page per patient in one query: those the
 * caller may see (the channel policy's `visible`). Each list holds up to `limit + 1` channels
 * (the extra one says there is more).
 */
export async function channelsOfPatients(em: EntityManager, actor: Actor | undefined, patientIds: readonly string[], page: KeysetPage, answers: boolean): Promise<Channel[][]> {
  if (!isPerson(actor)) return patientIds.map(() => []);
  const visible = channelPolicy.sql.visible(actor, 'c', answers);
  const rows = await preparedRows<Record<string, unknown>[]>(em,
    `select c.* from unnest(?::uuid[]) as p(id) cross join lateral (
       select ${selectColumns(em, ChannelEntity, 'c')} from channel c
        where c.organisation_id = ? and c.patient_id = p.id and ${visible.sql}
          ${page.after ? "and (date_trunc('milliseconds', c.created_at), c.id) > (?::timestamptz, ?::uuid)" : ''}
        order by date_trunc('milliseconds', c.created_at), c.id
        limit ?) c`,
    [uuidArray(patientIds), actor.organisationId, ...visible.params, ...(page.after ? [page.after.at.toISOString(), page.after.id] : []), page.limit + 1],
  );
  const channels = rows.map(channelFromSelected);
  return patientIds.map((id) => channels.filter((channel) => channel.patientId === id));
}

/** The cursor of a channel in a patient's list (activation order, to the millisecond). */

/** The current members of each channel, one page per channel in one query, in joining order. */
export async function membersOfChannels(em: EntityManager, actor: Actor | undefined, channelIds: readonly string[], page: KeysetPage): Promise<ChannelMember[][]> {
  if (!actor || actor.kind === 'operator') return channelIds.map(() => []);
  const rows = await preparedRows<Record<string, unknown>[]>(em,
    `select m.* from unnest(?::uuid[]) as c(id) cross join lateral (
       select ${selectColumns(em, ChannelMemberEntity, 'm')} from channel_member m
        where m.organisation_id = ? and m.channel_id = c.id and m.left_at is null
          ${page.after ? 'and (m.joined_at, m.id) > (?::timestamptz, ?::uuid)' : ''}
        order by m.joined_at, m.id
        limit ?) m`,
    [uuidArray(channelIds), actor.organisationId, ...(page.after ? [page.after.at.toISOString(), page.after.id] : []), page.limit + 1],
  );
  const members = rows.map(memberFromSelected);
  return channelIds.map((id) => members.filter((member) => member.channelId === id));
}


const CHANNEL_KINDS = { dates: ['lastActivityAt', 'closedAt', 'unstaffedSince', 'createdAt', 'updatedAt'], numbers: ['lastSeq'] };
const MEMBER_KINDS = { dates: ['joinedAt', 'leftAt', 'archivedAt', 'mutedAt', 'mutedUntil', 'lastReadAt'], numbers: ['joinedSeq', 'leftSeq', 'lastReadSeq'] };

/**
 * A channel row selected with `selectColumns(…, Channel, …)` as a Channel, without the ORM's unit
 * of work (reads that only present or check channels).
 */
export const channelFromSelected = (row: Record<string, unknown>) => typedRow<Channel>(row, CHANNEL_KINDS);

/** A membership row selected with `selectColumns(…, ChannelMember, …)` as a ChannelMember. */
const memberFromSelected = (row: Record<string, unknown>) => typedRow<ChannelMember>(row, MEMBER_KINDS);

/** Channels by id, in one statement. */
export async function channelsById(em: EntityManager, organisationId: string, ids: readonly string[]): Promise<Channel[]> {
  const rows = await preparedRows<Record<string, unknown>[]>(em, `select ${selectColumns(em, ChannelEntity, 'c')} from channel c where c.organisation_id = ? and c.id = any(?::uuid[])`, [
    organisationId,
    uuidArray(ids),
  ]);
  return rows.map(channelFromSelected);
}

/** Memberships by id (current or ended), in one statement. */
export async function membersById(em: EntityManager, organisationId: string, ids: readonly string[]): Promise<ChannelMember[]> {
  const rows = await preparedRows<Record<string, unknown>[]>(em, `select ${selectColumns(em, ChannelMemberEntity, 'm')} from channel_member m where m.organisation_id = ? and m.id = any(?::uuid[])`, [
    organisationId,
    uuidArray(ids),
  ]);
  return rows.map(memberFromSelected);
}

/** The person's current memberships of the given channels, in one statement. */
export async function ownMembershipsOf(em: EntityManager, person: PersonActor, channelIds: readonly string[]): Promise<ChannelMember[]> {
  const { column, id } = memberColumn(person);
  const rows = await preparedRows<Record<string, unknown>[]>(em,
    `select ${selectColumns(em, ChannelMemberEntity, 'm')} from channel_member m where m.organisation_id = ? and m.channel_id = any(?::uuid[]) and m.${column} = ? and m.left_at is null`,
    [person.organisationId, uuidArray(channelIds), id],
  );
  return rows.map(memberFromSelected);
}

/** A channel (undefined where there is none) and the caller's current membership of it. */
export interface ChannelAccess {
  channel?: Channel;
  membership?: ChannelMember;
}

/** Channels by id with the caller's current membership of each, in one statement (in the order of the ids). */
export async function channelsWithMemberships(em: EntityManager, person: PersonActor, channelIds: readonly string[]): Promise<ChannelAccess[]> {
  const { column, id } = memberColumn(person);
  const rows = await preparedRows<Array<{ id: string; channel: Record<string, unknown> | null; membership: Record<string, unknown> | null }>>(
    em,
    `select i.id,
            (select row_to_json(x) from (select ${selectColumns(em, ChannelEntity, 'c')} from channel c where c.organisation_id = ? and c.id = i.id) x) as channel,
            (select row_to_json(x) from (select ${selectColumns(em, ChannelMemberEntity, 'm')} from channel_member m
              where m.organisation_id = ? and m.channel_id = i.id and m.${column} = ? and m.left_at is null) x) as membership
       from unnest(?::uuid[]) as i(id)`,
    [person.organisationId, person.organisationId, id, uuidArray(channelIds)],
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  return channelIds.map((channelId) => {
    const row = byId.get(channelId);
    return { channel: row?.channel ? channelFromSelected(row.channel) : undefined, membership: row?.membership ? memberFromSelected(row.membership) : undefined };
  });
}

/** A channel, the caller's current membership of it, and a page of its messages read in the same statement. */
export interface ChannelReadAhead extends ChannelAccess {
  /** Read only where the caller has a current membership; the caller still decides, by the channel policy, whether they may see it. */
  messages?: Message[];
}

/**
 * `channel(id) { messages(…) }` in one statement: the channel, the caller's current membership,
 * and, where that membership exists, the page. Reading the page cannot leak: it is returned only
 * after the channel policy accepted the channel and membership read with it.
 */
export async function channelWithPage(em: EntityManager, person: PersonActor, channelId: string, page: MessagePageQuery): Promise<ChannelReadAhead> {
  const { column, id } = memberColumn(person);
  const membership = `select ${selectColumns(em, ChannelMemberEntity, 'm')} from channel_member m where m.organisation_id = ? and m.channel_id = ? and m.${column} = ? and m.left_at is null`;
  const messages = messagePageSql(em, person, page);
  const [row] = await preparedRows<Array<{ channel: Record<string, unknown> | null; membership: Record<string, unknown> | null; messages: Record<string, unknown>[] | null }>>(em,
    `select (select row_to_json(x) from (select ${selectColumns(em, ChannelEntity, 'c')} from channel c where c.organisation_id = ? and c.id = ?) x) as channel,
            (select row_to_json(m) from (${membership}) m) as membership,
            (select json_agg(p order by p.seq ${page.forward ? 'asc' : 'desc'}) from (${messages.sql}) p where exists (${membership})) as messages`,
    [person.organisationId, channelId, person.organisationId, channelId, id, ...messages.params, person.organisationId, channelId, id],
  );
  return {
    channel: row.channel ? channelFromSelected(row.channel) : undefined,
    membership: row.membership ? memberFromSelected(row.membership) : undefined,
    messages: row.membership ? (row.messages ?? []).map(messageFromSelected) : undefined,
  };
}

/** A message (undefined where there is none) with its channel and the caller's current membership of it. */
export interface MessageAccess extends ChannelAccess {
  message?: Message;
}

/**
 * A message by id with its channel and the caller's membership, in one statement: a hidden message
 * and an absent one cost the same work (the caller decides by the policies what to show).
 */
export async function messageWithAccess(em: EntityManager, person: PersonActor, messageId: string): Promise<MessageAccess> {
  const { column, id } = memberColumn(person);
  const [row] = await preparedRows<Array<{ message: Record<string, unknown> | null; channel: Record<string, unknown> | null; membership: Record<string, unknown> | null }>>(em,
    `with found as (select ${selectColumns(em, Message, 'x')} from message x where x.organisation_id = ? and x.id = ?)
     select (select row_to_json(f) from found f) as message,
            (select row_to_json(y) from (select ${selectColumns(em, ChannelEntity, 'c')} from channel c, found f where c.organisation_id = ? and c.id = f."channelId") y) as channel,
            (select row_to_json(y) from (select ${selectColumns(em, ChannelMemberEntity, 'm')} from channel_member m, found f
              where m.organisation_id = ? and m.channel_id = f."channelId" and m.${column} = ? and m.left_at is null) y) as membership`,
    [person.organisationId, messageId, person.organisationId, person.organisationId, id],
  );
  return {
    message: row.message ? messageFromSelected(row.message) : undefined,
    channel: row.channel ? channelFromSelected(row.channel) : undefined,
    membership: row.membership ? memberFromSelected(row.membership) : undefined,
  };
}

/** A channel, the caller's current membership of it, and its patient with their guardians. */
export interface ChannelWithPatient extends ChannelAccess {
  /** Read only where the channel has a patient and the caller a current membership. */
  patient?: PatientWithGuardians;
}

/**
 * What a team member's message to a patient channel is checked against, in one statement: the
 * channel, the caller's current membership and the patient with their guardians (the messaging
 * preconditions). The patient is read only for a member, and goes to the write policy, not to the API.
 */
export async function channelWithPatient(em: EntityManager, person: PersonActor, channelId: string): Promise<ChannelWithPatient> {
  const { column, id } = memberColumn(person);
  const membership = `select ${selectColumns(em, ChannelMemberEntity, 'm')} from channel_member m where m.organisation_id = ? and m.channel_id = ? and m.${column} = ? and m.left_at is null`;
  const [row] = await preparedRows<Array<{ channel: Record<string, unknown> | null; membership: Record<string, unknown> | null; patient: Record<string, unknown> | null }>>(em,
    `select (select row_to_json(x) from (select ${selectColumns(em, ChannelEntity, 'c')} from channel c where c.organisation_id = ? and c.id = ?) x) as channel,
            (select row_to_json(m) from (${membership}) m) as membership,
            (select row_to_json(x) from (${patientsWithGuardiansSelect(em)}
               where p.organisation_id = ? and p.id = (select c.patient_id from channel c where c.organisation_id = ? and c.id = ?)
                 and exists (${membership})) x) as patient`,
    [person.organisationId, channelId, person.organisationId, channelId, id, person.organisationId, person.organisationId, channelId, person.organisationId, channelId, id],
  );
  return {
    channel: row.channel ? channelFromSelected(row.channel) : undefined,
    membership: row.membership ? memberFromSelected(row.membership) : undefined,
    patient: row.patient ? patientWithGuardiansFromSelected(row.patient) : undefined,
  };
}

/** A conversation a patient started that waits for a team member's first answer. */
export interface IncomingConversation {
  channel: Channel;
  /** When the patient started it. */
  waitingSince: Date;
}

/**
 * Conversations patients started that are open and have no answer from a team member yet (only
 * what the patient sees counts: not an automatic reply, not a note for staff), newest first, keyset paged: all of them for
 * those who answer patients (`everyone`), otherwise those the caller is a member of.
 */
export async function incomingConversations(em: EntityManager, staff: PersonActor, everyone: boolean, after: { at: Date; id: string } | undefined, limit: number): Promise<IncomingConversation[]> {
  const { column, id } = memberColumn(staff);
  const rows = await preparedRows<Record<string, unknown>[]>(em,
    `select ${selectColumns(em, ChannelEntity, 'c')} from channel c
      where c.organisation_id = ? and ${channelPolicy.sql.awaitingAnswer('c')}
        and not exists (select 1 from message m where m.organisation_id = c.organisation_id and m.channel_id = c.id
                         and m.author_team_member_id is not null and ${messagePolicy.sql.seenByPatients('m')} and m.deleted_at is null)
        ${everyone ? '' : `and exists (select 1 from channel_member cm where cm.organisation_id = c.organisation_id and cm.channel_id = c.id and cm.${column} = ? and cm.left_at is null)`}
        ${after ? "and (date_trunc('milliseconds', c.created_at), c.id) < (?::timestamptz, ?::uuid)" : ''}
      order by date_trunc('milliseconds', c.created_at) desc, c.id desc
      limit ?`,
    [staff.organisationId, ...(everyone ? [] : [id]), ...(after ? [after.at.toISOString(), after.id] : []), limit],
  );
  return rows.map((row) => {
    const channel = channelFromSelected(row);
    return { channel, waitingSince: channel.createdAt };
  });
}
