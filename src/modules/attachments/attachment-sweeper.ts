import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { scheduleRepeating } from '../../common/schedule';
import type { FileStore } from './file-store';
import { purgeWithdrawnChartFiles } from '../chart/chart-files';

/** One process at a time sweeps (an advisory lock), whatever the number of processes. */
const SWEEP_LOCK = 'care-messaging-attachment-sweep';
const BATCH = 500;

type Swept = Array<{ organisation_id: string; id: string; storage_key: string; chart_document_id?: string | null }>;

/**
 * Removes the bytes of attachments whose message was deleted (the row stays, DELETED, as
 * history), optionally of one message only. The row changes first: bytes go only once nothing
 * can hand out a URL to them. A chart document's bytes stay: they are the chart's, not the message's.
 */
export async function purgeDeletedMessageFiles(orm: MikroORM, files: FileStore, only?: { organisationId: string; messageId: string }): Promise<number> {
  const rows = await orm.em.fork().execute<Swept>(
    `update attachment a set status = 'DELETED'
      where a.status = 'READY' and (a.organisation_id, a.id) in (
        select x.organisation_id, x.id from attachment x
          join message m on m.organisation_id = x.organisation_id and m.id = x.message_id
         where x.status = 'READY' and m.deleted_at is not null
           ${only ? 'and x.organisation_id = ? and x.message_id = ?' : ''}
         limit ${BATCH})
      returning a.organisation_id, a.id, a.storage_key, a.chart_document_id`,
    only ? [only.organisationId, only.messageId] : [],
  );
  for (const row of rows) if (!row.chart_document_id) await files.remove(row.storage_key);
  return rows.length;
}

/**
 * Removes uploads nobody will use, older than `olderThan`: never finished or refused, ready but
 * never sent, avatars no patient shows any more. Rows are deleted first (a concurrent send or
 * profile change either wins the row or finds it gone), then their bytes.
 */
export async function sweepStaleUploads(orm: MikroORM, files: FileStore, olderThan: Date): Promise<number> {
  return orm.em.fork().transactional(async (em) => {
    const [{ locked }] = await em.execute<Array<{ locked: boolean }>>('select pg_try_advisory_xact_lock(hashtext(?)) as locked', [SWEEP_LOCK]);
    if (!locked) return 0;
    const rows = await em.execute<Swept>(
      `delete from attachment a
        where (a.organisation_id, a.id) in (
          select s.organisation_id, s.id from attachment s
           where s.created_at < ?
             and (s.status in ('PENDING', 'UPLOADING', 'REJECTED')
                  or (s.status = 'READY' and s.purpose = 'MESSAGE' and s.message_id is null)
                  or (s.status = 'READY' and s.purpose = 'CHART_DOCUMENT'
                      and not exists (select 1 from chart_document d where d.organisation_id = s.organisation_id and d.file_attachment_id = s.id))
                  or (s.status = 'READY' and s.purpose = 'AVATAR'
                      and not exists (select 1 from patient p where p.organisation_id = s.organisation_id and p.avatar_attachment_id = s.id)
                      and not exists (select 1 from team_member t where t.organisation_id = s.organisation_id and t.avatar_attachment_id = s.id)))
           limit ${BATCH}
           for update skip locked)
        returning a.organisation_id, a.id, a.storage_key`,
      [olderThan],
    );
    for (const row of rows) await files.remove(row.storage_key);
    return rows.length;
  });
}

/** Sweeps hourly (and once shortly after start); returns the function that stops it. */
export function scheduleAttachmentSweep(orm: MikroORM, files: FileStore, logger: Logger, withdrawnChartRetentionDays: number, staleAfterMs = 86_400_000): () => void {
  return scheduleRepeating(() => {
    Promise.all([purgeDeletedMessageFiles(orm, files), sweepStaleUploads(orm, files, new Date(Date.now() - staleAfterMs)), purgeWithdrawnChartFiles(orm, files, withdrawnChartRetentionDays)])
      .then(([purged, swept, withdrawn]) => (purged || swept || withdrawn) && logger.info({ purged, swept, withdrawn }, 'attachment files removed'))
      .catch((error) => logger.warn({ err: error }, 'attachment sweep failed'));
  });
}
