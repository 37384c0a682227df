import { BigIntType, Entity, OptionalProps, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { TenantScoped } from '../db/tenant';

export enum ChannelEventType {
  MESSAGE_SENT = 'MESSAGE_SENT',
  MESSAGE_EDITED = 'MESSAGE_EDITED',
  MESSAGE_DELETED = 'MESSAGE_DELETED',
  REACTION_CHANGED = 'REACTION_CHANGED',
  MEMBER_JOINED = 'MEMBER_JOINED',
  MEMBER_LEFT = 'MEMBER_LEFT',
  READ_MARKED = 'READ_MARKED',
  CHANNEL_ARCHIVED = 'CHANNEL_ARCHIVED',
  CHANNEL_UNARCHIVED = 'CHANNEL_UNARCHIVED',
  CHANNEL_MUTED = 'CHANNEL_MUTED',
  CHANNEL_UNMUTED = 'CHANNEL_UNMUTED',
  CHANNEL_UPDATED = 'CHANNEL_UPDATED',
  CHANNEL_CLOSED = 'CHANNEL_CLOSED',
  ESCALATED = 'ESCALATED',
}

@Entity({ tableName: 'channel_event' })
@TenantScoped()
export class ChannelEventRecord {
  [OptionalProps]?: 'messageId' | 'memberId' | 'actorTeamMemberId' | 'actorPatientId' | 'staffOnly' | 'audienceRoles' | 'audienceTeamMemberId' | 'subjectTeamMemberId' | 'subjectPatientId' | 'subjectOnly' | 'createdAt';
  [PrimaryKeyProp]?: ['organisationId', 'channelId', 'seq'];

  @PrimaryKey({ type: 'uuid' })
  organisationId!: string;

  @PrimaryKey({ type: 'uuid' })
  channelId!: string;

  @PrimaryKey({ type: new BigIntType('number') })
  seq!: number;

  /** The organisation-wide, commit-ordered position of the transaction that wrote the event. */
  @Property({ type: new BigIntType('number') })
  position!: number;

  @Property({ type: 'text' })
  type!: ChannelEventType;

  /** Only team members may see it (an internal note, for instance). */
  @Property({ type: 'boolean' })
  staffOnly: boolean = false;

  /** About a note addressed to role groups: only team members in them, the note's author and messaging admins are told. */
  @Property({ type: 'text[]', nullable: true })
  audienceRoles?: string[] | null;

  /** The addressed note's author. */
  @Property({ type: 'uuid', nullable: true })
  audienceTeamMemberId?: string | null;

  /** The person a membership event is about. */
  @Property({ type: 'uuid', nullable: true })
  subjectTeamMemberId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  subjectPatientId?: string | null;

  /** Only the subject is told (their own read position). */
  @Property({ type: 'boolean' })
  subjectOnly: boolean = false;

  @Property({ type: 'uuid', nullable: true })
  messageId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  memberId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  actorTeamMemberId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  actorPatientId?: string | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
