import { Entity, OptionalProps, Property } from '@mikro-orm/core';
import { TenantRecord, TenantScoped } from '../../db/tenant';
import type { HandoverOffer } from './clinic-envelope';

export enum HandoverDirection {
  OUTGOING = 'OUTGOING',
  INCOMING = 'INCOMING',
}

export enum HandoverStatus {
  PENDING = 'PENDING',
  ACCEPTED = 'ACCEPTED',
  DECLINED = 'DECLINED',
}

export enum ConsentMethod {
  VERBAL = 'VERBAL',
  WRITTEN = 'WRITTEN',
  PORTAL = 'PORTAL',
}

/** One clinic's record of a handover of a patient conversation (see the migration). */
@Entity({ tableName: 'handover' })
@TenantScoped()
export class Handover extends TenantRecord {
  [OptionalProps]?: 'id' | 'status' | 'channelId' | 'patientId' | 'createdByTeamMemberId' | 'decidedByTeamMemberId' | 'decidedAt' | 'declineReason' | 'createdAt';

  @Property({ type: 'text' })
  direction!: HandoverDirection;

  @Property({ type: 'uuid' })
  thread!: string;

  @Property({ type: 'text' })
  status: HandoverStatus = HandoverStatus.PENDING;

  @Property({ type: 'text' })
  remoteClinicSlug!: string;

  @Property({ type: 'text' })
  remoteClinicName!: string;

  @Property({ type: 'uuid', nullable: true })
  channelId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  patientId?: string | null;

  @Property({ type: 'uuid' })
  clinicChannelId!: string;

  @Property({ type: 'json' })
  offer!: HandoverOffer;

  @Property({ type: 'text' })
  consentAttestedBy!: string;

  @Property({ type: 'datetime' })
  consentObtainedAt!: Date;

  @Property({ type: 'text' })
  consentMethod!: ConsentMethod;

  @Property({ type: 'uuid', nullable: true })
  createdByTeamMemberId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  decidedByTeamMemberId?: string | null;

  @Property({ type: 'datetime', nullable: true })
  decidedAt?: Date | null;

  @Property({ type: 'text', nullable: true })
  declineReason?: string | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
