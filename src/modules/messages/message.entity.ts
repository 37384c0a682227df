import { BigIntType, Entity, OptionalProps, Property } from '@mikro-orm/core';
import { TenantRecord, TenantScoped } from '../../db/tenant';

@Entity({ tableName: 'message' })
@TenantScoped()
export class Message extends TenantRecord {
  [OptionalProps]?: 'id' | 'authorTeamMemberId' | 'authorPatientId' | 'onBehalfOfPatientId' | 'createdAt';

  @Property({ type: 'uuid' })
  channelId!: string;

  /** The sequence number of the MESSAGE_SENT event: the message's place in its channel. */
  @Property({ type: new BigIntType('number') })
  seq!: number;

  @Property({ type: 'uuid', nullable: true })
  authorTeamMemberId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  authorPatientId?: string | null;

  /** A guardian's message: the dependant it was written for (the author is the guardian). */
  @Property({ type: 'uuid', nullable: true })
  onBehalfOfPatientId?: string | null;

  @Property({ type: 'text' })
  body!: string;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
