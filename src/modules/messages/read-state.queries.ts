import type { EntityManager } from '@mikro-orm/postgresql';
import { preparedRows } from '../../db/prepared';
import { isPerson, type Actor, type PersonActor } from '../../auth/actor';
import { uuidArray } from '../../db/sql';
import { memberColumn } from '../../policy/channels';
import { messagePolicy } from '../../policy/messages';

/** A team member or patient, as an actor or a notice's recipient. */
export type PersonRef = Pick<Extract<PersonActor, { kind: 'staff' }>, 'kind' | 'teamMemberId'> | Pick<Extract<PersonActor, { kind: 'patient' }>, 'kind' | 'patientId'>;

/** The person's own column in channel_member and message, for raw SQL. */
export const personColumns = (person: PersonRef) => {
  const { column, id } = memberColumn(person);
  return { kind: person.kind, member: column, author: `author_${column}`, id };
};

/** Unread counts stop at this many: a badge shows "999+", and a long unread history costs no more than this. */
export const UNREAD_COUNT_CAP = 1000;

/**
 * The unread messages of one membership row `cm` that the person may see, up to the cap:
 * walked in sequence order on the channel's index, whatever the planner estimates for skewed
 * channels (without the ordered limit it may scan the whole table once per channel).
 */
function unreadOfMembership(person: PersonRef): { sql: string; params: unknown[] } {
  const columns = personColumns(person);
  const visible = messagePolicy.sql.visibleTo(person, 'm');
  return {
    sql: `(select count(*) from (select 1 from message m
     where m.organisation_id = cm.organisation_id and m.channel_id = cm.channel_id and m.seq > cm.last_read_seq
       and m.${columns.author} is distinct from ?::uuid${visible.sql}
     order by m.seq limit ${UNREAD_COUNT_CAP}) unread)`,
    params: [columns.id, ...visible.params],
  };
}

/**
 * A person's unread messages across their channels, archived ones left out (the badge); with
 * `channelId`, in that channel only; with `excludeMuted`, muted channels left out too.
 */
export async function unreadTotal(em: EntityManager, organisationId: string, person: PersonRef, options: { channelId?: string; excludeMuted?: boolean } = {}): Promise<number> {
  const columns = personColumns(person);
  const unread = unreadOfMembership(person);
  const rows = await preparedRows<Array<{ n: string }>>(em,
    `select coalesce(sum(${unread.sql}), 0) as n from channel_member cm
      where cm.organisation_id = ? and cm.${columns.member} = ? and cm.left_at is null and cm.archived_at is null
        ${options.excludeMuted ? 'and (cm.muted_at is null or cm.muted_until <= now())' : ''}
        ${options.channelId ? 'and cm.channel_id = ?' : ''}`,
    [...unread.params, organisationId, columns.id, ...(options.channelId ? [options.channelId] : [])],
  );
  return Number(rows[0].n);
}

/** Unread counts of many channels for one person in one query (the DataLoader's batch). */
export async function unreadCounts(em: EntityManager, actor: Actor | undefined, channelIds: readonly string[]): Promise<number[]> {
  if (!isPerson(actor)) return channelIds.map(() => 0);
  const columns = personColumns(actor);
  const unread = unreadOfMembership(actor);
  const rows = await preparedRows<Array<{ channel_id: string; n: string }>>(em,
    `select cm.channel_id, ${unread.sql} as n from channel_member cm
      where cm.organisation_id = ? and cm.${columns.member} = ? and cm.left_at is null and cm.channel_id = any(?::uuid[])`,
    [...unread.params, actor.organisationId, columns.id, uuidArray(channelIds)],
  );
  const byChannel = new Map(rows.map((row) => [row.channel_id, Number(row.n)]));
  return channelIds.map((id) => byChannel.get(id) ?? 0);
}

/** Unread replies in many threads for one person in one query: replies by others after their channel read position. */
export async function unreadReplyCounts(em: EntityManager, actor: Actor | undefined, messageIds: readonly string[]): Promise<number[]> {
  if (!isPerson(actor)) return messageIds.map(() => 0);
  const columns = personColumns(actor);
  const visible = messagePolicy.sql.visibleTo(actor, 'r');
  const rows = await preparedRows<Array<{ parent_message_id: string; n: string }>>(em,
    `select r.parent_message_id, count(*) as n from message r
       join channel_member cm on cm.organisation_id = r.organisation_id and cm.channel_id = r.channel_id
                             and cm.${columns.member} = ? and cm.left_at is null
      where r.organisation_id = ? and r.parent_message_id = any(?::uuid[]) and r.seq > cm.last_read_seq
        and r.${columns.author} is distinct from ?::uuid${visible.sql}
      group by r.parent_message_id`,
    [columns.id, actor.organisationId, uuidArray(messageIds), columns.id, ...visible.params],
  );
  const byThread = new Map(rows.map((row) => [row.parent_message_id, Number(row.n)]));
  return messageIds.map((id) => byThread.get(id) ?? 0);
}
