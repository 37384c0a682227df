import { BigIntType, Entity, OptionalProps, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { TenantScoped } from '../../db/tenant';

@Entity({ tableName: 'message' })
@TenantScoped()
export class Message {
  [OptionalProps]?: 'id' | 'authorTeamMemberId' | 'authorPatientId' | 'createdAt';
  [PrimaryKeyProp]?: ['organisationId', 'id'];

  @PrimaryKey({ type: 'uuid' })
  organisationId!: string;

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'uuid' })
  channelId!: string;

  /** The sequence number of the MESSAGE_SENT event: the message's place in its channel. */
  @Property({ type: new BigIntType('number') })
  seq!: number;

  @Property({ type: 'uuid', nullable: true })
  authorTeamMemberId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  authorPatientId?: string | null;

  @Property({ type: 'text' })
  body!: string;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
