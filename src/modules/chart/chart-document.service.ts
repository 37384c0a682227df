import { z } from 'zod';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { RequestScope } from '../../graphql/context';
import type { Actor, ServiceActor, StaffActor } from '../../auth/actor';
import { forbidden, apiError, ApiErrorCode, UserError, UserErrorCode } from '../../errors';
import { parseInput, requiredText, uuid, isUuid } from '../../common/validation';
import { auditedTransaction } from '../audit/audit-log';
import { chartPolicy } from '../../policy/chart';
import { uuidArray } from '../../db/sql';
import type { CursorCodec } from '../../common/cursor';
import { connectionOf, type Connection } from '../../common/graphql-types';
import type { EventLogTransaction } from '../../realtime/event-log';
import type { Channel } from '../channels/channel.entity';
import { Patient } from '../directory/patient.entity';
import { Attachment, AttachmentPurpose, AttachmentStatus } from '../attachments/attachment.entity';
import type { FileStore } from '../attachments/file-store';
import { removeChartDocumentFiles } from './chart-files';
import { ChartDocument, ChartDocumentKind, ChartDocumentStatus } from './chart-document.entity';

/** Most documents attached to one message (with uploaded attachments: 10 in all). */
export const MAX_CHART_DOCUMENTS = 10;

/** The `chartDocumentIds` of a send: distinct ids. */
export const chartDocumentIds = () =>
  z
    .array(uuid('A chart document id'))
    .max(MAX_CHART_DOCUMENTS, `At most ${MAX_CHART_DOCUMENTS} chart documents per message.`)
    .nullish()
    .transform((ids) => [...new Set(ids ?? [])]);

const clinicalDate = z.coerce.date().refine((date) => !Number.isNaN(date.getTime()), 'The clinical date is not a valid date.');

const registerInput = z
  .object({
    patientId: uuid('The patient id').nullish(),
    patientExternalId: requiredText("The patient's external id", 200).nullish(),
    attachmentId: uuid('The attachment id'),
    title: requiredText('The title', 200),
    kind: z.nativeEnum(ChartDocumentKind),
    clinicalDate,
    externalId: requiredText('The external id', 200).nullish(),
  })
  .refine((data) => (data.patientId == null) !== (data.patientExternalId == null), { message: 'Give patientId or patientExternalId (one of them).', path: ['patientId'] });

const updateInput = z.object({
  chartDocumentId: uuid('The chart document id'),
  title: requiredText('The title', 200).nullish(),
  kind: z.nativeEnum(ChartDocumentKind).nullish(),
  clinicalDate: clinicalDate.nullish(),
});

const withdrawInput = z.object({
  chartDocumentId: uuid('The chart document id'),
  reason: requiredText('The reason', 500),
  removeFile: z.boolean().nullish(),
});

/** What a staff member's search of a patient's chart asks for. */
export interface ChartSearch {
  patientId: string;
  kinds?: ChartDocumentKind[] | null;
  from?: Date | null;
  to?: Date | null;
  text?: string | null;
  includeWithdrawn?: boolean | null;
  limit: number;
  after?: string | null;
}

export interface ChartDocumentServiceDeps {
  files: FileStore;
  cursors: CursorCodec;
}

/**
 * A patient's chart documents: partner integrations register them (with a file they uploaded),
 * change their details and withdraw them; staff search them and attach them to messages by
 * reference. A withdrawn document stays in messages already sent, marked withdrawn; its file
 * goes after the retention period (CHART_WITHDRAWN_FILE_RETENTION_DAYS), or at once if asked.
 */
export class ChartDocumentService {
  constructor(
    private readonly scope: RequestScope,
    private readonly deps: ChartDocumentServiceDeps,
  ) {}

  private manager(): ServiceActor {
    const actor = this.scope.actor;
    if (!chartPolicy.managesChart(actor) || actor?.kind !== 'service') throw forbidden();
    return actor;
  }

  async register(input: unknown): Promise<ChartDocument> {
    const actor = this.manager();
    const clientId = actor.clientId;
    const data = parseInput(registerInput, input);
    const { organisationId } = actor;
    const patient = await this.scope.em.findOne(Patient, data.patientId ? { organisationId, id: data.patientId } : { organisationId, externalId: data.patientExternalId! });
    if (!patient) throw new UserError(UserErrorCode.NOT_FOUND, 'No such patient.', data.patientId ? 'input.patientId' : 'input.patientExternalId');
    if (data.externalId) {
      const existing = await this.scope.em.findOne(ChartDocument, { organisationId, externalId: data.externalId });
      if (existing) return this.sameRegistration(existing, patient.id, data.attachmentId);
    }
    const file = await this.scope.em.findOne(Attachment, {
      organisationId,
      id: data.attachmentId,
      purpose: AttachmentPurpose.CHART_DOCUMENT,
      status: AttachmentStatus.READY,
      uploadedByServiceClient: clientId,
    });
    if (!file) throw new UserError(UserErrorCode.NOT_FOUND, 'No such file ready: upload it with attachmentCreateUpload (purpose CHART_DOCUMENT) first.', 'input.attachmentId');
    try {
      return await auditedTransaction(this.scope, async (em) => {
        const document = em.create(ChartDocument, {
          organisationId,
          patientId: patient.id,
          externalId: data.externalId ?? null,
          title: data.title,
          kind: data.kind,
          clinicalDate: data.clinicalDate,
          fileAttachmentId: file.id,
          registeredByServiceClient: clientId,
        });
        await em.flush();
        return document;
      });
    } catch (error) {
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
      // A retry racing its first attempt, or a file already registered: say which.
      this.scope.em.clear();
      const raced = data.externalId ? await this.scope.em.findOne(ChartDocument, { organisationId, externalId: data.externalId }) : null;
      if (raced) return this.sameRegistration(raced, patient.id, data.attachmentId);
      throw new UserError(UserErrorCode.INVALID_INPUT, 'This file is already the file of another chart document.', 'input.attachmentId');
    }
  }

  /** Registering again with the same external id: the same document if it is the same registration. */
  private sameRegistration(existing: ChartDocument, patientId: string, attachmentId: string): ChartDocument {
    if (existing.patientId === patientId && existing.fileAttachmentId === attachmentId) return existing;
    throw new UserError(UserErrorCode.EXTERNAL_ID_TAKEN, 'Another chart document has this external id.', 'input.externalId');
  }

  async update(input: unknown): Promise<ChartDocument> {
    const { organisationId } = this.manager();
    const data = parseInput(updateInput, input);
    return auditedTransaction(this.scope, async (em) => {
      const document = await this.lockedDocument(em, organisationId, data.chartDocumentId);
      if (document.status === ChartDocumentStatus.WITHDRAWN) throw new UserError(UserErrorCode.CHART_DOCUMENT_WITHDRAWN, 'This chart document was withdrawn.', 'input.chartDocumentId');
      if (data.title != null) document.title = data.title;
      if (data.kind != null) document.kind = data.kind;
      if (data.clinicalDate != null) document.clinicalDate = data.clinicalDate;
      await em.flush();
      return document;
    });
  }

  /**
   * Withdraws a document: it can no longer be attached; messages already sent keep it, marked
   * withdrawn. With `removeFile` (a document filed to the wrong patient, say) its file goes at
   * once, from those messages too. Withdrawing again changes nothing.
   */
  async withdraw(input: unknown): Promise<ChartDocument> {
    const { organisationId } = this.manager();
    const data = parseInput(withdrawInput, input);
    const { document, removed } = await auditedTransaction(this.scope, async (em) => {
      const document = await this.lockedDocument(em, organisationId, data.chartDocumentId);
      if (document.status === ChartDocumentStatus.ACTIVE) {
        document.status = ChartDocumentStatus.WITHDRAWN;
        document.withdrawnAt = new Date();
        document.withdrawnReason = data.reason;
      }
      await em.flush();
      const removed = data.removeFile && !document.fileRemovedAt ? await removeChartDocumentFiles(em, organisationId, [document.id]) : [];
      if (removed.length) await em.refresh(document);
      return { document, removed };
    });
    for (const key of removed) await this.deps.files.remove(key);
    return document;
  }

  private async lockedDocument(em: RequestScope['em'], organisationId: string, id: string): Promise<ChartDocument> {
    const [row] = await em.execute<Array<{ id: string }>>('select id from chart_document where organisation_id = ? and id = ? for update', [organisationId, id]);
    const document = row && (await em.findOne(ChartDocument, { organisationId, id }, { refresh: true }));
    if (!document) throw new UserError(UserErrorCode.NOT_FOUND, 'No such chart document.', 'input.chartDocumentId');
    return document;
  }

  /** A patient's chart documents, newest clinical date first, filtered by kind, date range and title words. Staff and integrations. */
  async search(query: ChartSearch): Promise<Connection<ChartDocument>> {
    const actor = this.scope.actor;
    if (!chartPolicy.readsChart(actor) || (actor?.kind !== 'staff' && actor?.kind !== 'service')) throw forbidden();
    const after = query.after != null ? this.deps.cursors.keyset.decode(query.after) : undefined;
    if (query.after != null && !after) throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid; start again from the first page.');
    if (!isUuid(query.patientId)) return connectionOf([], () => '');
    const text = query.text?.trim();
    if (text && text.length > 200) throw apiError(ApiErrorCode.BAD_USER_INPUT, 'Search for at most 200 characters.');
    const conditions = ['organisation_id = ?', 'patient_id = ?'];
    const params: unknown[] = [actor.organisationId, query.patientId];
    if (!query.includeWithdrawn) conditions.push(`status = '${ChartDocumentStatus.ACTIVE}'`);
    if (query.kinds?.length) conditions.push(`kind = any(?::text[])`), params.push(`{${query.kinds.join(',')}}`);
    if (query.from) conditions.push('clinical_date >= ?'), params.push(query.from);
    if (query.to) conditions.push('clinical_date < ?'), params.push(query.to);
    if (text) conditions.push(`title ilike ? escape '\\'`), params.push(`%${text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`);
    if (after) conditions.push("(date_trunc('milliseconds', clinical_date), id) < (?::timestamptz, ?::uuid)"), params.push(after.at.toISOString(), after.id);
    const rows = await this.scope.em.execute(
      `select * from chart_document where ${conditions.join(' and ')} order by date_trunc('milliseconds', clinical_date) desc, id desc limit ?`,
      [...params, query.limit + 1],
    );
    const documents = rows.slice(0, query.limit).map((row) => this.scope.em.map(ChartDocument, row));
    return connectionOf(documents, (document) => this.deps.cursors.keyset.encode(document.clinicalDate, document.id), { hasNextPage: rows.length > query.limit, hasPreviousPage: false });
  }

  /**
   * Before a send: the documents exist in the organisation, are not withdrawn, and belong to the
   * channel's patient (chartPolicy.attachableIn); checked again under lock when attached.
   */
  async checkAttachable(actor: Actor, channel: Pick<Channel, 'kind' | 'patientId'>, chartDocumentIds: readonly string[], uploaded: number): Promise<void> {
    if (chartDocumentIds.length === 0) return;
    if (!chartPolicy.attachesFromChart(actor)) throw new UserError(UserErrorCode.FORBIDDEN, 'Only team members attach documents from the chart.', 'input.chartDocumentIds');
    if (chartDocumentIds.length + uploaded > MAX_CHART_DOCUMENTS) {
      throw new UserError(UserErrorCode.INVALID_INPUT, `At most ${MAX_CHART_DOCUMENTS} attachments per message, chart documents included.`, 'input.chartDocumentIds');
    }
    const { organisationId } = actor as StaffActor;
    const found = await this.scope.em.find(ChartDocument, { organisationId, id: { $in: [...chartDocumentIds] } });
    if (found.length !== chartDocumentIds.length) throw new UserError(UserErrorCode.NOT_FOUND, 'No such chart document.', 'input.chartDocumentIds');
    if (found.some((document) => !chartPolicy.attachableIn(channel, document))) {
      throw new UserError(UserErrorCode.CHART_DOCUMENT_WRONG_CHANNEL, chartPolicy.attachableRule, 'input.chartDocumentIds');
    }
    if (found.some((document) => document.status !== ChartDocumentStatus.ACTIVE)) {
      throw new UserError(UserErrorCode.CHART_DOCUMENT_WITHDRAWN, 'A chart document was withdrawn: it cannot be attached.', 'input.chartDocumentIds');
    }
  }

  /**
   * In the message's transaction: each document becomes an attachment of the message, pointing at
   * the document's file. The documents are share-locked: a withdrawal waits for the send, or the
   * send sees the withdrawal and fails.
   */
  static async attach(log: EventLogTransaction, author: StaffActor, messageId: string, chartDocumentIds: readonly string[]): Promise<void> {
    if (chartDocumentIds.length === 0) return;
    const attached = await log.em.execute(
      `insert into attachment (organisation_id, uploaded_by_team_member_id, purpose, file_name, declared_type, declared_bytes, content_type, size_bytes, status, storage_key, message_id, chart_document_id, uploaded_at)
       select d.organisation_id, ?, 'MESSAGE', f.file_name, f.content_type, f.size_bytes, f.content_type, f.size_bytes, 'READY', f.storage_key, ?, d.id, now()
         from chart_document d
         join attachment f on f.organisation_id = d.organisation_id and f.id = d.file_attachment_id and f.status = 'READY'
        where d.organisation_id = ? and d.id = any(?::uuid[]) and d.status = 'ACTIVE'
        order by array_position(?::uuid[], d.id)
          for share of d
       returning id`,
      [author.teamMemberId, messageId, author.organisationId, uuidArray(chartDocumentIds), uuidArray(chartDocumentIds)],
    );
    if (attached.length !== chartDocumentIds.length) {
      throw new UserError(UserErrorCode.CHART_DOCUMENT_WITHDRAWN, 'A chart document was withdrawn: it cannot be attached.', 'input.chartDocumentIds');
    }
  }
}
