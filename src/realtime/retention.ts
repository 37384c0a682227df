import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';

/**
 * Removes channel events older than the retention period, across organisations, and records per
 * organisation the highest position removed, so that older inbox cursors get CURSOR_EXPIRED.
 * Messages themselves are kept: only the replay log is trimmed. Returns how many were removed.
 */
export async function pruneEventLog(orm: MikroORM, olderThan: Date, batchSize = 10_000): Promise<number> {
  let removed = 0;
  for (;;) {
    const rows = await orm.em.fork().execute<Array<{ n: string }>>(
      `with doomed as (
         select organisation_id, channel_id, seq from channel_event where created_at < ? limit ?
       ), deleted as (
         delete from channel_event e using doomed d
          where e.organisation_id = d.organisation_id and e.channel_id = d.channel_id and e.seq = d.seq
          returning e.organisation_id, e.position
       ), marked as (
         update event_position p set pruned_through = greatest(p.pruned_through, d.max_position)
           from (select organisation_id, max(position) as max_position from deleted group by organisation_id) d
          where p.organisation_id = d.organisation_id
       )
       select count(*) as n from deleted`,
      [olderThan, batchSize],
    );
    const count = Number(rows[0].n);
    removed += count;
    if (count < batchSize) return removed;
  }
}

/** Prunes hourly (and once shortly after start); returns the function that stops it. */
export function scheduleRetention(orm: MikroORM, retentionDays: number, logger: Logger): () => void {
  const run = () => {
    pruneEventLog(orm, new Date(Date.now() - retentionDays * 86_400_000))
      .then((removed) => removed > 0 && logger.info({ removed }, 'event log pruned'))
      .catch((error) => logger.warn({ err: error }, 'event log pruning failed'));
  };
  const first = setTimeout(run, 60_000);
  const every = setInterval(run, 3_600_000);
  first.unref();
  every.unref();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}
