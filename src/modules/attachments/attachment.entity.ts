import { BigIntType, Entity, OptionalProps, Property } from '@mikro-orm/core';
import { TenantRecord, TenantScoped } from '../../db/tenant';

export enum AttachmentStatus {
  PENDING = 'PENDING',
  UPLOADING = 'UPLOADING',
  READY = 'READY',
  REJECTED = 'REJECTED',
  DELETED = 'DELETED',
}

export enum AttachmentPurpose {
  MESSAGE = 'MESSAGE',
  AVATAR = 'AVATAR',
  CHART_DOCUMENT = 'CHART_DOCUMENT',
}

@Entity({ tableName: 'attachment' })
@TenantScoped()
export class Attachment extends TenantRecord {
  [OptionalProps]?: 'id' | 'uploadedByTeamMemberId' | 'uploadedByPatientId' | 'uploadedByServiceClient' | 'chartDocumentId' | 'purpose' | 'contentType' | 'sizeBytes' | 'status' | 'messageId' | 'createdAt' | 'uploadedAt';

  @Property({ type: 'uuid', nullable: true })
  uploadedByTeamMemberId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  uploadedByPatientId?: string | null;

  /** A partner integration's client id (chart document files). */
  @Property({ type: 'text', nullable: true })
  uploadedByServiceClient?: string | null;

  @Property({ type: 'text' })
  purpose: AttachmentPurpose = AttachmentPurpose.MESSAGE;

  @Property({ type: 'text' })
  fileName!: string;

  @Property({ type: 'text' })
  declaredType!: string;

  @Property({ type: new BigIntType('number') })
  declaredBytes!: number;

  /** The type the bytes show, once uploaded and checked. */
  @Property({ type: 'text', nullable: true })
  contentType?: string | null;

  @Property({ type: new BigIntType('number'), nullable: true })
  sizeBytes?: number | null;

  @Property({ type: 'text' })
  status: AttachmentStatus = AttachmentStatus.PENDING;

  @Property({ type: 'text' })
  storageKey!: string;

  @Property({ type: 'uuid', nullable: true })
  messageId?: string | null;

  /** On a message's attachment: the chart document it was attached from (the bytes are the document's). */
  @Property({ type: 'uuid', nullable: true })
  chartDocumentId?: string | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', nullable: true })
  uploadedAt?: Date | null;
}
