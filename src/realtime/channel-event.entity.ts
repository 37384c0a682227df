import { BigIntType, Entity, OptionalProps, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { TenantScoped } from '../db/tenant';

export enum ChannelEventType {
  MESSAGE_SENT = 'MESSAGE_SENT',
  MEMBER_JOINED = 'MEMBER_JOINED',
}

@Entity({ tableName: 'channel_event' })
@TenantScoped()
export class ChannelEventRecord {
  [OptionalProps]?: 'messageId' | 'memberId' | 'actorTeamMemberId' | 'actorPatientId' | 'createdAt';
  [PrimaryKeyProp]?: ['organisationId', 'channelId', 'seq'];

  @PrimaryKey({ type: 'uuid' })
  organisationId!: string;

  @PrimaryKey({ type: 'uuid' })
  channelId!: string;

  @PrimaryKey({ type: new BigIntType('number') })
  seq!: number;

  @Property({ type: 'text' })
  type!: ChannelEventType;

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
