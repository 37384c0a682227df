import { BigIntType, Entity, OptionalProps, Property } from '@mikro-orm/core';
import { TenantRecord, TenantScoped } from '../../db/tenant';

export enum ChannelKind {
  CARE_TEAM = 'CARE_TEAM',
  SERVICE_TEAM = 'SERVICE_TEAM',
  STAFF = 'STAFF',
  GROUP = 'GROUP',
  DIRECT = 'DIRECT',
  CONVERSATION = 'CONVERSATION',
}

export enum ChannelStatus {
  ACTIVE = 'ACTIVE',
  CLOSED = 'CLOSED',
}

/** Kinds a patient can be a member of; the rest are staff-only. */
export const PATIENT_VISIBLE_KINDS: ReadonlySet<ChannelKind> = new Set([
  ChannelKind.CARE_TEAM,
  ChannelKind.SERVICE_TEAM,
  ChannelKind.GROUP,
  ChannelKind.CONVERSATION,
]);

/** The same list as an SQL `in (...)` body, for raw queries. */
export const PATIENT_VISIBLE_KINDS_SQL = [...PATIENT_VISIBLE_KINDS].map((kind) => `'${kind}'`).join(', ');

@Entity({ tableName: 'channel' })
@TenantScoped()
export class Channel extends TenantRecord {
  [OptionalProps]?: 'id' | 'title' | 'directKey' | 'patientId' | 'status' | 'lastSeq' | 'lastActivityAt' | 'createdByTeamMemberId' | 'createdAt' | 'updatedAt';

  @Property({ type: 'text' })
  kind!: ChannelKind;

  @Property({ type: 'uuid', nullable: true })
  patientId?: string | null;

  @Property({ type: 'text', nullable: true })
  title?: string | null;

  /** DIRECT channels: their team members' ids, sorted and joined (one channel per set). */
  @Property({ type: 'text', nullable: true })
  directKey?: string | null;

  @Property({ type: 'text' })
  status: ChannelStatus = ChannelStatus.ACTIVE;

  /** Sequence number of the channel's newest event (the per-channel counter). */
  @Property({ type: new BigIntType('number') })
  lastSeq: number = 0;

  @Property({ type: 'datetime' })
  lastActivityAt: Date = new Date();

  @Property({ type: 'uuid', nullable: true })
  createdByTeamMemberId?: string | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}

@Entity({ tableName: 'channel_member' })
@TenantScoped()
export class ChannelMember extends TenantRecord {
  [OptionalProps]?: 'id' | 'teamMemberId' | 'patientId' | 'joinedAt' | 'joinedSeq' | 'leftAt' | 'leftSeq' | 'removedByTeamMemberId' | 'archivedAt' | 'lastReadSeq' | 'lastReadAt';

  @Property({ type: 'uuid' })
  channelId!: string;

  @Property({ type: 'uuid', nullable: true })
  teamMemberId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  patientId?: string | null;

  @Property({ type: 'datetime' })
  joinedAt: Date = new Date();

  /** Sequence number of the MEMBER_JOINED event: the member sees the channel's events from here. */
  @Property({ type: new BigIntType('number') })
  joinedSeq: number = 0;

  /** Set when the membership ended (left or removed); the row stays as history. */
  @Property({ type: 'datetime', nullable: true })
  leftAt?: Date | null;

  /** Sequence number of the MEMBER_LEFT event: the last event the member sees. */
  @Property({ type: new BigIntType('number'), nullable: true })
  leftSeq?: number | null;

  @Property({ type: 'uuid', nullable: true })
  removedByTeamMemberId?: string | null;

  @Property({ type: 'datetime', nullable: true })
  archivedAt?: Date | null;

  /** Sequence number of the newest message the member has read. */
  @Property({ type: new BigIntType('number') })
  lastReadSeq: number = 0;

  @Property({ type: 'datetime', nullable: true })
  lastReadAt?: Date | null;
}
