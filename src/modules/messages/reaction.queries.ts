import type { EntityManager } from '@mikro-orm/postgresql';
import { preparedRows } from '../../db/prepared';
import { isPerson, type Actor } from '../../auth/actor';
import { uuidArray } from '../../db/sql';
import { memberColumn } from '../../policy/channels';

export interface ReactionSummary {
  emoji: string;
  count: number;
  reactedByMe: boolean;
}

/** The reactions of many messages for one caller, in one query (the DataLoader's batch): first reacted first. */
export async function reactionSummaries(em: EntityManager, actor: Actor | undefined, messageIds: readonly string[]): Promise<ReactionSummary[][]> {
  if (!isPerson(actor)) return messageIds.map(() => []);
  const { column, id: me } = memberColumn(actor);
  const rows = await preparedRows<Array<{ message_id: string; emoji: string; n: string; mine: boolean }>>(em,
    `select message_id, emoji, count(*) as n, bool_or(${column} is not distinct from ?::uuid) as mine from message_reaction
      where organisation_id = ? and message_id = any(?::uuid[])
      group by message_id, emoji order by min(created_at), emoji`,
    [me, actor.organisationId, uuidArray(messageIds)],
  );
  return messageIds.map((id) => rows.filter((row) => row.message_id === id).map((row) => ({ emoji: row.emoji, count: Number(row.n), reactedByMe: row.mine })));
}
