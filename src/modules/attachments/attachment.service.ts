import { z } from 'zod';
import type { Readable } from 'node:stream';
import type { RequestScope, AppDeps } from '../../graphql/context';
import { auditedTransaction } from '../audit/audit-log';
import { requirePerson, type PersonActor, type ServiceActor } from '../../auth/actor';
import { UserError, UserErrorCode, RateLimitedError } from '../../errors';
import { parseInput, perConfig, requiredText } from '../../common/validation';
import { TENANT_FILTER } from '../../db/tenant';
import { uuidArray } from '../../db/sql';
import type { EventLogTransaction } from '../../realtime/event-log';
import { Attachment, AttachmentPurpose, AttachmentStatus } from './attachment.entity';
import { ATTACHMENT_TYPES, detectType } from './file-types';
import { FileTooLargeError } from './file-store';
import type { Config } from '../../config';
import type { CursorCodec } from '../../common/cursor';
import type { MessagingSettingsService } from '../settings/messaging-settings.service';
import type { RateLimits } from '../rate-limits/rate-limits';
import { actorId } from '../audit/audit-recorder';
import { personKey } from '../../policy/events';
import { serviceKey } from '../rate-limits/rate-limits';

const MAX_PER_MESSAGE = 10;
const MAX_AVATAR_BYTES = 2 * 1024 * 1024;
const AVATAR_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
/** The uploader's column of an attachment row. */
export const uploaderColumns = (actor: PersonActor | ServiceActor) =>
  actor.kind === 'staff' ? { uploadedByTeamMemberId: actor.teamMemberId } : actor.kind === 'patient' ? { uploadedByPatientId: actor.patientId } : { uploadedByServiceClient: actor.clientId };

/** Control characters and path separators have no place in a file name shown to others. */
const UNSAFE_NAME = /[\p{Cc}\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF/\\]/u;

export interface UploadTicket {
  attachment: Attachment;
  uploadUrl: string;
  uploadExpiresAt: Date;
}

/** The answer to an upload or download request made with a ticket URL. */
export interface FileResponse {
  status: number;
  body?: Record<string, unknown>;
  file?: { stream: Readable; attachment: Attachment };
}

/** What AttachmentService works with besides the request. */
export interface AttachmentServiceDeps {
  rateLimits: RateLimits;
  config: Config;
  cursors: CursorCodec;
  settings: MessagingSettingsService;
}

const uploadInput = perConfig((config: Config) =>
  z.object({
      fileName: requiredText('The file name', 255).refine((name) => !UNSAFE_NAME.test(name), 'The file name must not contain path separators or control characters.'),
      contentType: z.string().refine((type) => (ATTACHMENT_TYPES as readonly string[]).includes(type), {
        message: `Attachments are ${ATTACHMENT_TYPES.join(', ')}.`,
        params: { code: UserErrorCode.UNSUPPORTED_FILE_TYPE },
      }),
      size: z
        .number()
        .int()
        .positive('The size must be positive.')
        .refine((size) => size <= config.files.maxBytes, {
          message: `Attachments are at most ${config.files.maxBytes} bytes.`,
          params: { code: UserErrorCode.FILE_TOO_LARGE },
        }),
      purpose: z.nativeEnum(AttachmentPurpose).nullish(),
    }),
);

/**
 * Attachments: a caller asks for an upload URL (short-lived, for one file of a declared type and
 * size), sends the bytes to it, and the server keeps them only if their content is of the
 * declared type and within the size. A ready attachment is attached to one message by the
 * person who uploaded it; it is downloaded through short-lived URLs handed only to people who
 * can see the message.
 */
export class AttachmentService {
  constructor(
    private readonly scope: RequestScope,
    private readonly deps: AttachmentServiceDeps,
  ) {}

  async createUpload(input: unknown): Promise<UploadTicket> {
    const actor = this.scope.actor;
    if (actor?.kind !== 'service') requirePerson(actor);
    const uploader = actor as PersonActor | ServiceActor;
    const data = parseInput(uploadInput(this.deps.config), input);
    const purpose = data.purpose ?? (uploader.kind === 'service' ? AttachmentPurpose.CHART_DOCUMENT : AttachmentPurpose.MESSAGE);
    if ((purpose === AttachmentPurpose.CHART_DOCUMENT) !== (uploader.kind === 'service')) {
      throw new UserError(UserErrorCode.FORBIDDEN, 'Partner integrations upload chart documents (purpose CHART_DOCUMENT), and only those.', 'input.purpose');
    }
    if (purpose === AttachmentPurpose.AVATAR) {
      if (!AVATAR_TYPES.has(data.contentType)) throw new UserError(UserErrorCode.UNSUPPORTED_FILE_TYPE, 'An avatar is a JPEG, PNG, GIF or WebP image.', 'input.contentType');
      if (data.size > MAX_AVATAR_BYTES) throw new UserError(UserErrorCode.FILE_TOO_LARGE, `An avatar is at most ${MAX_AVATAR_BYTES} bytes.`, 'input.size');
    } else if (uploader.kind !== 'service') {
      await this.assertMayAttach(uploader, data.contentType, 'input.contentType');
    }
    await this.assertUploadAllowance(uploader);
    const attachment = await auditedTransaction(this.scope, async (em) => {
      const created = em.create(Attachment, {
        organisationId: uploader.organisationId,
        ...uploaderColumns(uploader),
        purpose,
        fileName: data.fileName,
        declaredType: data.contentType,
        declaredBytes: data.size,
        storageKey: '',
      });
      created.storageKey = `${uploader.organisationId}/${created.id}`;
      await em.flush();
      return created;
    });
    const expiresAt = Date.now() + this.deps.config.files.urlTtlSeconds * 1000;
    const ticket = this.deps.cursors.encodeFileTicket({ action: 'u', organisationId: uploader.organisationId, attachmentId: attachment.id, expiresAt });
    return { attachment, uploadUrl: fileUrl(this.deps.config, 'upload', ticket), uploadExpiresAt: new Date(expiresAt) };
  }

  /**
   * Upload tickets per person and organisation, and a cap on tickets not used yet (each holds a
   * row until it is used or swept); bytes a day are counted as they arrive (receiveUpload).
   */
  private async assertUploadAllowance(actor: PersonActor | ServiceActor): Promise<void> {
    const { rateLimits, config } = this.deps;
    if (!rateLimits.enabled) return;
    const pendingOf = { organisationId: actor.organisationId, ...uploaderColumns(actor), status: AttachmentStatus.PENDING, createdAt: { $gt: new Date(Date.now() - config.files.urlTtlSeconds * 1000) } };
    const pending = await this.scope.em.count(Attachment, pendingOf);
    if (Number(pending) >= config.rateLimits.maxPendingUploads) {
      throw new RateLimitedError(`You have ${config.rateLimits.maxPendingUploads} uploads started and not finished; finish them or wait until their links expire.`, config.files.urlTtlSeconds);
    }
    await rateLimits.consumeFor('uploadTicket', actor);
  }

  /** Patients attach files only where the settings allow it, of the types they allow. */
  private async assertMayAttach(actor: PersonActor, contentType: string, field: string): Promise<void> {
    if (actor.kind !== 'patient') return;
    const settings = await this.deps.settings.current();
    if (!settings.patientUploadsAllowed) throw new UserError(UserErrorCode.FORBIDDEN, 'Your clinic does not accept attachments from patients.', field);
    if (!settings.patientUploadTypes.includes(contentType)) {
      throw new UserError(UserErrorCode.UNSUPPORTED_FILE_TYPE, `Your clinic accepts ${settings.patientUploadTypes.join(', ')} from patients.`, field);
    }
  }

  /** Ready attachments the caller uploaded for messages and has not attached yet; otherwise NOT_FOUND. */
  async checkAttachable(actor: PersonActor, attachmentIds: readonly string[]): Promise<void> {
    if (attachmentIds.length === 0) return;
    if (attachmentIds.length > MAX_PER_MESSAGE) throw new UserError(UserErrorCode.INVALID_INPUT, `At most ${MAX_PER_MESSAGE} attachments per message.`, 'input.attachmentIds');
    const uploader = actor.kind === 'staff' ? { uploadedByTeamMemberId: actor.teamMemberId } : { uploadedByPatientId: actor.patientId };
    const found = await this.scope.em.find(Attachment, {
      organisationId: actor.organisationId,
      id: { $in: [...attachmentIds] },
      status: AttachmentStatus.READY,
      purpose: AttachmentPurpose.MESSAGE,
      messageId: null,
      ...uploader,
    });
    if (found.length !== attachmentIds.length) throw new UserError(UserErrorCode.NOT_FOUND, 'No such attachment ready to send.', 'input.attachmentIds');
    for (const attachment of found) await this.assertMayAttach(actor, attachment.contentType!, 'input.attachmentIds');
  }

  /** In the message's transaction: each attachment goes to exactly one message, even when two sends race. */
  static async attach(log: EventLogTransaction, organisationId: string, messageId: string, attachmentIds: readonly string[]): Promise<void> {
    if (attachmentIds.length === 0) return;
    const attached = await log.em.execute(
      `update attachment set message_id = ? where organisation_id = ? and id = any(?::uuid[]) and message_id is null and status = 'READY' and purpose = 'MESSAGE' returning id`,
      [messageId, organisationId, uuidArray(attachmentIds)],
    );
    if (attached.length !== attachmentIds.length) throw new UserError(UserErrorCode.NOT_FOUND, 'No such attachment ready to send.', 'input.attachmentIds');
  }

  /** A short-lived download URL; hand it out only to someone who may see what the attachment belongs to. */
  downloadUrl(attachment: Attachment): { url: string; expiresAt: Date } {
    const expiresAt = Date.now() + this.deps.config.files.urlTtlSeconds * 1000;
    const actor = this.scope.actor;
    const holder = actor && actor.kind !== 'operator' ? `${actor.kind}:${actorId(actor)}` : undefined;
    const ticket = this.deps.cursors.encodeFileTicket({ action: 'd', organisationId: attachment.organisationId, attachmentId: attachment.id, expiresAt, holder });
    return { url: fileUrl(this.deps.config, 'download', ticket), expiresAt: new Date(expiresAt) };
  }
}

function fileUrl(config: Config, action: 'upload' | 'download', ticket: string): string {
  return `${config.files.publicUrl ?? ''}/files/${action}/${ticket}`;
}

async function attachmentOfTicket(deps: AppDeps, raw: string, action: 'u' | 'd'): Promise<Attachment | undefined> {
  const ticket = deps.cursors.decodeFileTicket(raw);
  if (!ticket || ticket.action !== action) return undefined;
  const em = deps.orm.em.fork({ clear: true, useContext: false });
  em.setFilterParams(TENANT_FILTER, { organisationId: ticket.organisationId });
  return (await em.findOne(Attachment, { organisationId: ticket.organisationId, id: ticket.attachmentId })) ?? undefined;
}

/**
 * Receives the bytes of an upload URL: kept only when within the declared size and when their
 * content is of the declared type; anything else is refused and nothing is kept.
 */
export async function receiveUpload(deps: AppDeps, ticket: string, source: Readable, contentLength: number | undefined): Promise<FileResponse> {
  const attachment = await attachmentOfTicket(deps, ticket, 'u');
  if (!attachment) return { status: 403, body: { code: 'UPLOAD_URL_INVALID', message: 'This upload URL is not valid or has expired.' } };
  // One upload per URL: the first request claims it; a second one, at once or later, is refused.
  const claimed = await deps.orm.em
    .fork()
    .execute(`update attachment set status = 'UPLOADING' where organisation_id = ? and id = ? and status = 'PENDING' returning id`, [attachment.organisationId, attachment.id]);
  if (claimed.length === 0) return { status: 409, body: { code: 'ALREADY_UPLOADED', message: 'This file was already uploaded.' } };
  if (contentLength !== undefined && contentLength > attachment.declaredBytes) return reject(deps, attachment, 413, 'FILE_TOO_LARGE', 'The file is larger than declared.');
  let stored;
  try {
    stored = await deps.files.write(attachment.storageKey, source, attachment.declaredBytes);
  } catch (error) {
    if (error instanceof FileTooLargeError) return reject(deps, attachment, 413, 'FILE_TOO_LARGE', 'The file is larger than declared.');
    await reject(deps, attachment, 400, 'UPLOAD_FAILED', 'The upload did not complete.');
    throw error;
  }
  const detected = detectType(stored.head);
  if (stored.bytes === 0 || detected !== attachment.declaredType) {
    await deps.files.remove(attachment.storageKey);
    return reject(deps, attachment, 415, 'FILE_TYPE_MISMATCH', `The content is not a ${attachment.declaredType} file.`);
  }
  // Bytes a day count as received (a ticket's declared size costs nothing until its bytes arrive).
  // The uploader's counter, keyed as RateLimits keys a person (personKey).
  const uploader = attachment.uploadedByServiceClient
    ? serviceKey(attachment.organisationId, attachment.uploadedByServiceClient)
    : personKey({ teamMemberId: attachment.uploadedByTeamMemberId, patientId: attachment.uploadedByPatientId });
  try {
    await deps.rateLimits.consume('uploadKilobytes', [{ scope: 'person', id: uploader }, { scope: 'organisation', id: attachment.organisationId }], Math.max(1, Math.ceil(stored.bytes / 1024)));
  } catch (error) {
    if (!(error instanceof RateLimitedError)) throw error;
    await deps.files.remove(attachment.storageKey);
    const refused = await reject(deps, attachment, 429, 'RATE_LIMITED', error.message);
    return { ...refused, body: { ...refused.body, retryAfterSeconds: error.retryAfterSeconds } };
  }
  await deps.orm.em
    .fork()
    .execute(`update attachment set status = 'READY', content_type = ?, size_bytes = ?, uploaded_at = now() where organisation_id = ? and id = ? and status = 'UPLOADING'`, [
      detected,
      stored.bytes,
      attachment.organisationId,
      attachment.id,
    ]);
  return { status: 200, body: { id: attachment.id, contentType: detected, size: stored.bytes } };
}

async function reject(deps: AppDeps, attachment: Attachment, status: number, code: string, message: string): Promise<FileResponse> {
  await deps.orm.em.fork().execute(`update attachment set status = 'REJECTED' where organisation_id = ? and id = ? and status = 'UPLOADING'`, [attachment.organisationId, attachment.id]);
  return { status, body: { code, message } };
}

/** The bytes behind a download URL, unless it expired or what they belong to was deleted. */
export async function openDownload(deps: AppDeps, raw: string, requestId: string): Promise<FileResponse> {
  const ticket = deps.cursors.decodeFileTicket(raw);
  const attachment = await attachmentOfTicket(deps, raw, 'd');
  const opened = attachment && (await downloadable(deps, attachment));
  // Every download of a valid URL is on the audit log of the attachment's organisation, as its holder's.
  if (ticket?.holder && ticket.action === 'd') {
    const separator = ticket.holder.indexOf(':');
    const [actorKind, actorId] = [ticket.holder.slice(0, separator), ticket.holder.slice(separator + 1)];
    await deps.auditLog.record({
      organisationId: ticket.organisationId,
      actorKind,
      actorId,
      requestId,
      action: 'File.download',
      targetType: 'attachment',
      targetId: ticket.attachmentId,
      outcome: opened ? 'ALLOWED' : 'DENIED',
      errorCode: opened ? null : 'NOT_FOUND',
      occurredAt: new Date(),
    });
  }
  if (!attachment || !opened) return { status: 404, body: { code: 'NOT_FOUND', message: 'No such file, or the link expired.' } };
  return { status: 200, file: { stream: deps.files.read(attachment.storageKey), attachment } };
}

/** A file is downloadable while it is ready and the message it belongs to (if any) is not deleted. */
async function downloadable(deps: AppDeps, attachment: Attachment): Promise<boolean> {
  if (attachment.status !== AttachmentStatus.READY) return false;
  if (!attachment.messageId) return true;
  const [message] = await deps.orm.em
    .fork()
    .execute<Array<{ deleted_at: Date | null }>>('select deleted_at from message where organisation_id = ? and id = ?', [attachment.organisationId, attachment.messageId]);
  return Boolean(message && !message.deleted_at);
}
