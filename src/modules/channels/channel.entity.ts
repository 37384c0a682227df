import { BigIntType, Entity, OptionalProps, Property } from '@mikro-orm/core';
import { TenantRecord, TenantScoped } from '../../db/tenant';

export enum ChannelKind {
  CARE_TEAM = 'CARE_TEAM',
  SERVICE_TEAM = 'SERVICE_TEAM',
  STAFF = 'STAFF',
  GROUP = 'GROUP',
  DIRECT = 'DIRECT',
  CONVERSATION = 'CONVERSATION',
  CLINIC = 'CLINIC',
}

export enum ChannelStatus {
  ACTIVE = 'ACTIVE',
  CLOSED = 'CLOSED',
}

@Entity({ tableName: 'channel' })
@TenantScoped()
export class Channel extends TenantRecord {
  [OptionalProps]?: 'id' | 'title' | 'directKey' | 'patientId' | 'status' | 'lastSeq' | 'lastActivityAt' | 'createdByTeamMemberId' | 'startedByPatient' | 'patientCanReply' | 'closedAt' | 'closedByTeamMemberId' | 'unstaffedSince' | 'remoteClinicSlug' | 'remoteClinicName' | 'remoteThreadId' | 'startedByClinic' | 'remotePatientName' | 'createdAt' | 'updatedAt';

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

  /** Conversations: a patient (or a guardian) started it, so the organisation's responders may answer it. */
  @Property({ type: 'boolean' })
  startedByPatient: boolean = false;

  /** Conversations: whether the patient may write (set when it starts, changed by staff). */
  @Property({ type: 'boolean' })
  patientCanReply: boolean = true;

  @Property({ type: 'datetime', nullable: true })
  closedAt?: Date | null;

  @Property({ type: 'uuid', nullable: true })
  closedByTeamMemberId?: string | null;

  /** Set while a patient channel has no active team member; messaging admins are shown it. */
  @Property({ type: 'datetime', nullable: true })
  unstaffedSince?: Date | null;

  /** CLINIC channels: the other clinic, as it named itself. */
  @Property({ type: 'text', nullable: true })
  remoteClinicSlug?: string | null;

  @Property({ type: 'text', nullable: true })
  remoteClinicName?: string | null;

  /** CLINIC channels: the conversation's id shared by both clinics' copies. */
  @Property({ type: 'uuid', nullable: true })
  remoteThreadId?: string | null;

  /** CLINIC channels: the other clinic started it, so this organisation's responders answer it. */
  @Property({ type: 'boolean' })
  startedByClinic: boolean = false;

  /** CLINIC channels the other clinic started about one of its patients: that patient's name, as it shared it. */
  @Property({ type: 'text', nullable: true })
  remotePatientName?: string | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}

@Entity({ tableName: 'channel_member' })
@TenantScoped()
export class ChannelMember extends TenantRecord {
  [OptionalProps]?: 'id' | 'teamMemberId' | 'patientId' | 'joinedAt' | 'joinedSeq' | 'leftAt' | 'leftSeq' | 'removedByTeamMemberId' | 'guardianOfPatientId' | 'archivedAt' | 'mutedAt' | 'mutedUntil' | 'lastReadSeq' | 'lastReadAt';

  @Property({ type: 'uuid' })
  channelId!: string;

  @Property({ type: 'uuid', nullable: true })
  teamMemberId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  patientId?: string | null;

  /** Set when the patient is in the channel as the guardian of this patient (its patient). */
  @Property({ type: 'uuid', nullable: true })
  guardianOfPatientId?: string | null;

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

  /** Notifications paused by the member: from mutedAt until mutedUntil (null: until unmuted). */
  @Property({ type: 'datetime', nullable: true })
  mutedAt?: Date | null;

  @Property({ type: 'datetime', nullable: true })
  mutedUntil?: Date | null;

  /** Sequence number of the newest message the member has read. */
  @Property({ type: new BigIntType('number') })
  lastReadSeq: number = 0;

  @Property({ type: 'datetime', nullable: true })
  lastReadAt?: Date | null;
}
