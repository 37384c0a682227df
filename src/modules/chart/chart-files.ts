import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { uuidArray } from '../../db/sql';
import type { FileStore } from '../attachments/file-store';

const BATCH = 200;

/**
 * In a transaction: the files of these withdrawn documents stop being served (the document's own
 * attachment and every message's reference to it turn DELETED). Returns the storage keys whose
 * bytes to remove once the transaction committed.
 */
export async function removeChartDocumentFiles(em: EntityManager, organisationId: string, documentIds: readonly string[]): Promise<string[]> {
  const documents = await em.execute<Array<{ file_attachment_id: string }>>(
    `update chart_document set file_removed_at = now()
      where organisation_id = ? and id = any(?::uuid[]) and status = 'WITHDRAWN' and file_removed_at is null
      returning file_attachment_id`,
    [organisationId, uuidArray(documentIds)],
  );
  if (documents.length === 0) return [];
  const files = await em.execute<Array<{ storage_key: string }>>(
    `update attachment set status = 'DELETED'
      where organisation_id = ? and (id = any(?::uuid[]) or chart_document_id = any(?::uuid[])) and status = 'READY'
      returning storage_key`,
    [organisationId, uuidArray(documents.map((document) => document.file_attachment_id)), uuidArray(documentIds)],
  );
  return [...new Set(files.map((file) => file.storage_key))];
}

/** Removes the files of documents withdrawn longer ago than the retention period; returns how many documents. */
export async function purgeWithdrawnChartFiles(orm: MikroORM, files: FileStore, retentionDays: number): Promise<number> {
  const { count, keys } = await orm.em.fork().transactional(async (em) => {
    const due = await em.execute<Array<{ organisation_id: string; id: string }>>(
      `select organisation_id, id from chart_document
        where status = 'WITHDRAWN' and file_removed_at is null and withdrawn_at < now() - make_interval(days => ?)
        limit ${BATCH} for update skip locked`,
      [retentionDays],
    );
    const byOrganisation = new Map<string, string[]>();
    for (const row of due) byOrganisation.set(row.organisation_id, [...(byOrganisation.get(row.organisation_id) ?? []), row.id]);
    const keys: string[] = [];
    for (const [organisationId, ids] of byOrganisation) keys.push(...(await removeChartDocumentFiles(em, organisationId, ids)));
    return { count: due.length, keys };
  });
  for (const key of keys) await files.remove(key);
  return count;
}
