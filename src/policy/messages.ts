import type { Message } from '../modules/messages/message.entity';

/**
 * Internal notes: staff-only messages in channels with patients. The one place that decides who
 * sees them, as predicates and as SQL fragments used by lists, threads, counts, lastMessage,
 * search, reactions, events, typing and notifications alike.
 */

/** Anyone who reads messages: an actor or a notice's recipient (only the kind matters here). */
export interface Reader {
  kind: string;
}

export const messagePolicy = {
  /** Does this reader see internal notes (and internal replies, revisions, internal typing)? */
  seesInternalNotes: (reader: Reader | undefined) => reader?.kind === 'staff',

  /** May this reader see this message, as far as its kind goes (channel access is the channel policy's)? */
  canSee: (reader: Reader | undefined, message: Pick<Message, 'internal'>) => !message.internal || messagePolicy.seesInternalNotes(reader),

  /** May this reader write an internal note (or type one)? */
  canWriteInternal: (reader: Reader | undefined) => messagePolicy.seesInternalNotes(reader),

  /** Are the events about this message (sent, edited, deleted, reactions) for staff only? */
  eventsStaffOnly: (message: Pick<Message, 'internal'>) => message.internal,

  /** Replies in a thread this reader can see. */
  replyCount: (reader: Reader | undefined, message: Pick<Message, 'replyCount' | 'internalReplyCount'>) =>
    message.replyCount + (messagePolicy.seesInternalNotes(reader) ? message.internalReplyCount : 0),

  /** When a thread last got a reply this reader can see. */
  lastReplyAt(reader: Reader | undefined, message: Pick<Message, 'lastReplyAt' | 'lastInternalReplyAt'>): Date | null {
    const times = [message.lastReplyAt, messagePolicy.seesInternalNotes(reader) ? message.lastInternalReplyAt : null].filter((time): time is Date => time != null);
    return times.length ? new Date(Math.max(...times.map((time) => time.getTime()))) : null;
  },

  /** Earlier bodies of an edited message are staff-only. */
  seesRevisions: (reader: Reader | undefined) => messagePolicy.seesInternalNotes(reader),

  /** A MikroORM filter on messages for this reader: internal notes left out unless staff. */
  where: (reader: Reader | undefined): { internal?: false } => (messagePolicy.seesInternalNotes(reader) ? {} : { internal: false }),

  sql: {
    /** `and not m.internal` unless the reader is staff: append to a condition on message alias `m`. */
    andVisibleTo: (reader: Reader | undefined, message: string) => (messagePolicy.seesInternalNotes(reader) ? '' : ` and not ${message}.internal`),

    /** Messages everyone in the channel sees (what patients read and what waits for staff). */
    seenByPatients: (message: string) => `not ${message}.internal`,

    /** Who of a channel's members (alias `cm`) is told of a message: everyone, or staff only for an internal note. */
    andNoticeAudience: (message: Pick<Message, 'internal'>, member: string) => (message.internal ? ` and ${member}.team_member_id is not null` : ''),
  },
};
