import { Entity, OptionalProps, Property } from '@mikro-orm/core';
import { TenantRecord, TenantScoped } from '../../db/tenant';

export enum ChartDocumentKind {
  LAB_RESULT = 'LAB_RESULT',
  IMAGING = 'IMAGING',
  LETTER = 'LETTER',
  FORM = 'FORM',
  REPORT = 'REPORT',
  OTHER = 'OTHER',
}

export enum ChartDocumentStatus {
  ACTIVE = 'ACTIVE',
  WITHDRAWN = 'WITHDRAWN',
}

/** A document of a patient's chart, registered by a partner integration; its file is an attachment of purpose CHART_DOCUMENT. */
@Entity({ tableName: 'chart_document' })
@TenantScoped()
export class ChartDocument extends TenantRecord {
  [OptionalProps]?: 'id' | 'externalId' | 'status' | 'withdrawnAt' | 'withdrawnReason' | 'fileRemovedAt' | 'createdAt' | 'updatedAt';

  @Property({ type: 'uuid' })
  patientId!: string;

  @Property({ type: 'text', nullable: true })
  externalId?: string | null;

  @Property({ type: 'text' })
  title!: string;

  @Property({ type: 'text' })
  kind!: ChartDocumentKind;

  @Property({ type: 'datetime' })
  clinicalDate!: Date;

  @Property({ type: 'uuid' })
  fileAttachmentId!: string;

  @Property({ type: 'text' })
  registeredByServiceClient!: string;

  @Property({ type: 'text' })
  status: ChartDocumentStatus = ChartDocumentStatus.ACTIVE;

  @Property({ type: 'datetime', nullable: true })
  withdrawnAt?: Date | null;

  @Property({ type: 'text', nullable: true })
  withdrawnReason?: string | null;

  @Property({ type: 'datetime', nullable: true })
  fileRemovedAt?: Date | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
