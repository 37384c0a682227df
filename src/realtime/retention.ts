import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { scheduleRepeating } from '../common/schedule';

/** One process at a time prunes (an advisory lock), whatever the number of processes. */
const RETENTION_LOCK = 'care-messaging-event-retention';

/**
 * Removes, per organisation, the prefix of its event log (by position) older than `olderThan`.
 * Each organisation's `pruned_through` is raised first, so a resume cursor into the removed range
 * gets CURSOR_EXPIRED rather than a silent gap. Messages are kept: only the replay log is
 * trimmed, and never past an organisation's webhook feed. Returns how many events were removed (0 when another process holds the lock).
 */
export async function pruneEventLog(orm: MikroORM, olderThan: Date, batchSize = 10_000): Promise<number> {
  return orm.em.fork().transactional(async (em) => {
    const [{ locked }] = await em.execute<Array<{ locked: boolean }>>('select pg_try_advisory_xact_lock(hashtext(?)) as locked', [RETENTION_LOCK]);
    if (!locked) return 0;
    // Never past what webhooks have yet to turn into deliveries: a lagging feed loses nothing.
    const cuts = await em.execute<Array<{ organisation_id: string; through: string }>>(
      `select e.organisation_id, least(max(e.position), min(f.last_position)) as through
         from channel_event e left join webhook_feed f on f.organisation_id = e.organisation_id
        where e.created_at < ? group by e.organisation_id`,
      [olderThan],
    );
    let removed = 0;
    for (const cut of cuts) {
      await em.execute(
        'update event_position set pruned_through = greatest(pruned_through, ?) where organisation_id = ?',
        [cut.through, cut.organisation_id],
      );
      for (;;) {
        const result = await em.execute<{ affectedRows: number }>(
          `delete from channel_event where (organisation_id, channel_id, seq) in (
             select organisation_id, channel_id, seq from channel_event where organisation_id = ? and position <= ? limit ?)`,
          [cut.organisation_id, cut.through, batchSize],
          'run',
        );
        removed += result.affectedRows;
        if (result.affectedRows < batchSize) break;
      }
    }
    return removed;
  });
}

/** Prunes hourly (and once shortly after start); returns the function that stops it. */
export function scheduleRetention(orm: MikroORM, retentionDays: number, logger: Logger): () => void {
  return scheduleRepeating(() => {
    pruneEventLog(orm, new Date(Date.now() - retentionDays * 86_400_000))
      .then((removed) => removed > 0 && logger.info({ removed }, 'event log pruned'))
      .catch((error) => logger.warn({ err: error }, 'event log pruning failed'));
  });
}
