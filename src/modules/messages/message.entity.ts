import { BigIntType, Entity, OptionalProps, Property } from '@mikro-orm/core';
import { TenantRecord, TenantScoped } from '../../db/tenant';

@Entity({ tableName: 'message' })
@TenantScoped()
export class Message extends TenantRecord {
  [OptionalProps]?:
    | 'id' | 'authorTeamMemberId' | 'authorPatientId' | 'onBehalfOfPatientId' | 'parentMessageId' | 'replyCount' | 'lastReplyAt' | 'internalReplyCount' | 'lastInternalReplyAt' | 'internal' | 'audienceRoles' | 'audienceTeamMemberId'
    | 'editedAt' | 'deletedAt' | 'deletedByTeamMemberId' | 'deletedByPatientId' | 'idempotencyKey' | 'requestHash' | 'system' | 'urgency' | 'remoteAuthorName' | 'remoteClinicName' | 'createdAt';

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

  /** A message from another clinic (CLINIC channels): its author's name and clinic, as sent; no author here. */
  @Property({ type: 'text', nullable: true })
  remoteAuthorName?: string | null;

  @Property({ type: 'text', nullable: true })
  remoteClinicName?: string | null;

  /** A thread reply: the message it answers (always a top-level message). */
  @Property({ type: 'uuid', nullable: true })
  parentMessageId?: string | null;

  @Property({ type: 'integer' })
  replyCount: number = 0;

  @Property({ type: 'datetime', nullable: true })
  lastReplyAt?: Date | null;

  @Property({ type: 'integer' })
  internalReplyCount: number = 0;

  @Property({ type: 'datetime', nullable: true })
  lastInternalReplyAt?: Date | null;

  /** An internal note: staff only, never shown to patients or guardians. */
  @Property({ type: 'boolean' })
  internal: boolean = false;

  /** An internal note addressed to role groups: only team members in them (and its author, and messaging admins) see it. */
  @Property({ type: 'text[]', nullable: true })
  audienceRoles?: string[] | null;

  /** Who wrote an addressed thread's first note: in the audience of the whole thread, whatever their roles. */
  @Property({ type: 'uuid', nullable: true })
  audienceTeamMemberId?: string | null;

  @Property({ type: 'datetime', nullable: true })
  editedAt?: Date | null;

  /** Deleted messages stay as tombstones (body emptied, history kept in revisions). */
  @Property({ type: 'datetime', nullable: true })
  deletedAt?: Date | null;

  @Property({ type: 'uuid', nullable: true })
  deletedByTeamMemberId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  deletedByPatientId?: string | null;

  /** An automatic reply of the organisation: no author. */
  @Property({ type: 'boolean' })
  system: boolean = false;

  /** How soon it needs an answer (response targets, escalation). */
  @Property({ type: 'text' })
  urgency: 'ROUTINE' | 'URGENT' = 'ROUTINE';

  @Property({ type: 'text', nullable: true })
  idempotencyKey?: string | null;

  /** Hash of what was sent with the key: the same key with other content is refused. */
  @Property({ type: 'text', nullable: true })
  requestHash?: string | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
