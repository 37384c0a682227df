import { permissionFor } from './permissions';
import { textArray } from '../db/sql';
import { ChannelKind } from '../modules/channels/channel.entity';

/**
 * Internal notes: staff-only messages in channels with patients, optionally addressed to role
 * groups. The one place that decides who sees them, as predicates and as SQL fragments used by
 * lists, threads, counts, lastMessage, search, reactions, events, typing and notifications alike.
 */

/**
 * Anyone who reads messages: an actor, a live subscriber or a notice's recipient. The kind says
 * whether they see internal notes at all; a team member's id, role groups and permissions say
 * whether they are in an addressed note's audience (SQL reads those from the team member's row).
 */
export interface Reader {
  kind: string;
  teamMemberId?: string;
  /** A patient reader: who they are (what they see of a group turns on when they joined it). */
  patientId?: string;
  roles?: readonly string[];
  permissions?: readonly string[];
}

/** What decides a message's audience. */
export interface NoteFacts {
  internal: boolean;
  /** An internal note addressed to role groups (a thread's replies share its first message's)... */
  audienceRoles?: readonly string[] | null;
  /** ...and who wrote that first note. */
  audienceTeamMemberId?: string | null;
}

/** Who is told of events about a message: everyone in the channel, all staff, or an addressed note's audience. */
export interface EventAudience {
  staffOnly: boolean;
  audienceRoles: string[] | null;
  audienceTeamMemberId: string | null;
}

const isAddressed = (roles: readonly string[] | null | undefined): roles is readonly string[] => Boolean(roles?.length);

/** The permission that shows every addressed note (as an SQL literal: a constant of ours, not input). */
const READS_ADDRESSED = permissionFor('readAddressedNotes');

export const messagePolicy = {
  /** Does this reader see internal notes (and internal replies, revisions, internal typing)? */
  seesInternalNotes: (reader: Reader | undefined) => reader?.kind === 'staff',

  /**
   * Is this team member in the audience of a note addressed to `roles`: they hold one of the
   * roles, wrote it, or are a messaging admin? Everyone is in the audience of a note addressed to no one.
   */
  inAudience(reader: Reader | undefined, roles: readonly string[] | null | undefined, noteAuthorId: string | null | undefined): boolean {
    if (!isAddressed(roles)) return true;
    if (reader?.kind !== 'staff') return false;
    if (reader.teamMemberId !== undefined && reader.teamMemberId === noteAuthorId) return true;
    if (reader.permissions?.includes(READS_ADDRESSED)) return true;
    return roles.some((role) => reader.roles?.includes(role));
  },

  /** May this reader see this message, as far as its audience goes (channel access is the channel policy's)? */
  canSee: (reader: Reader | undefined, message: NoteFacts) =>
    !message.internal || (messagePolicy.seesInternalNotes(reader) && messagePolicy.inAudience(reader, message.audienceRoles, message.audienceTeamMemberId)),

  /**
   * Is this message within what a member sees of the channel's history? A patient added to a group
   * sees what was written from their joining on, unless the settings show new members everything.
   */
  withinHistory(reader: Reader | undefined, channel: { kind: ChannelKind }, membership: { joinedSeq: number } | undefined, message: { seq: number }, groupHistory: 'FROM_JOINING' | 'EVERYTHING'): boolean {
    if (reader?.kind !== 'patient' || channel.kind !== ChannelKind.GROUP || !membership || groupHistory === 'EVERYTHING') return true;
    return message.seq > membership.joinedSeq;
  },

  /** Whether `withinHistory` could refuse for this reader and channel (worth reading the settings for). */
  historyTurnsOnJoining: (reader: Reader | undefined, channel: { kind: ChannelKind }) => reader?.kind === 'patient' && channel.kind === ChannelKind.GROUP,

  /** May this reader write an internal note (or type one)? */
  canWriteInternal: (reader: Reader | undefined) => messagePolicy.seesInternalNotes(reader),

  /** The audience of the events about this message (sent, edited, deleted, reactions). */
  eventAudience: (message: NoteFacts): EventAudience => ({
    staffOnly: message.internal,
    audienceRoles: message.internal && isAddressed(message.audienceRoles) ? [...message.audienceRoles] : null,
    audienceTeamMemberId: message.internal && isAddressed(message.audienceRoles) ? (message.audienceTeamMemberId ?? null) : null,
  }),

  /** Replies in a thread this reader can see (a thread's replies share its first message's audience). */
  replyCount: (reader: Reader | undefined, message: { replyCount: number; internalReplyCount: number }) =>
    message.replyCount + (messagePolicy.seesInternalNotes(reader) ? message.internalReplyCount : 0),

  /** When a thread last got a reply this reader can see. */
  lastReplyAt(reader: Reader | undefined, message: { lastReplyAt?: Date | null; lastInternalReplyAt?: Date | null }): Date | null {
    const times = [message.lastReplyAt, messagePolicy.seesInternalNotes(reader) ? message.lastInternalReplyAt : null].filter((time): time is Date => time != null);
    return times.length ? new Date(Math.max(...times.map((time) => time.getTime()))) : null;
  },

  /** Earlier bodies of an edited message are staff-only. */
  seesRevisions: (reader: Reader | undefined) => messagePolicy.seesInternalNotes(reader),

  sql: {
    /**
     * The condition (with its parameters, in order) that leaves out on message alias `m` what
     * this reader may not see: internal notes unless staff, and notes addressed to role groups
     * the team member is not in (their roles and permissions as they are in the database now).
     * Append to a condition; place the parameters where the fragment goes.
     */
    visibleTo(reader: Reader | undefined, message: string): { sql: string; params: unknown[] } {
      if (!messagePolicy.seesInternalNotes(reader)) {
        if (!reader?.patientId) return { sql: ` and not ${message}.internal`, params: [] };
        // A patient in a group sees what was written from their joining on, unless the settings show them
        // everything. A NOT EXISTS the planner turns into an anti-join: the patient's few group
        // memberships are read once per statement, not once per message.
        return {
          sql: ` and not ${message}.internal and not exists (
                   select 1 from channel_member gm join channel gc on gc.organisation_id = gm.organisation_id and gc.id = gm.channel_id
                    where gm.organisation_id = ${message}.organisation_id and gm.channel_id = ${message}.channel_id and gm.patient_id = ?::uuid and gm.left_at is null
                      and ${message}.seq <= gm.joined_seq and gc.kind = '${ChannelKind.GROUP}'
                      and coalesce((select gs.group_history from messaging_settings gs where gs.organisation_id = gm.organisation_id), 'FROM_JOINING') = 'FROM_JOINING')`,
          params: [reader.patientId],
        };
      }
      return messagePolicy.sql.andInAudience(reader, { roles: `${message}.audience_roles`, author: `${message}.audience_team_member_id`, organisation: `${message}.organisation_id` });
    },

    /** `inAudience` for a team member, on the columns of an addressed note's roles and author (null roles: not addressed). Append to a condition. */
    andInAudience(reader: Reader | undefined, columns: { roles: string; author: string; organisation: string }): { sql: string; params: unknown[] } {
      if (!reader?.teamMemberId) return { sql: ` and ${columns.roles} is null`, params: [] };
      return {
        sql: ` and (${columns.roles} is null or exists (
                 select 1 from team_member na where na.organisation_id = ${columns.organisation} and na.id = ?::uuid
                    and (na.id = ${columns.author} or '${READS_ADDRESSED}' = any(na.permissions) or na.roles && ${columns.roles})))`,
        params: [reader.teamMemberId],
      };
    },

    /** Messages everyone in the channel sees (what patients read and what waits for staff). */
    seenByPatients: (message: string) => `not ${message}.internal`,

    /** A team member's reply the patient sees, after the message a wait (`response_due` row `wait`) counts from: what answers a patient. */
    answersWait: (wait: string) =>
      `exists (select 1 from message answer where answer.organisation_id = ${wait}.organisation_id and answer.channel_id = ${wait}.channel_id
                 and answer.seq > ${wait}.message_seq and answer.author_team_member_id is not null and not answer.internal)`,

    /**
     * Who of a channel's members (alias `cm`, their team member row `tm`) is told of a message:
     * everyone, staff only for an internal note, and for an addressed note only those in its audience.
     */
    andNoticeAudience(message: NoteFacts, member: string, teamMember: string): { sql: string; params: unknown[] } {
      if (!message.internal) return { sql: '', params: [] };
      if (!isAddressed(message.audienceRoles)) return { sql: ` and ${member}.team_member_id is not null`, params: [] };
      return {
        sql: ` and ${member}.team_member_id is not null
               and (${teamMember}.id = ?::uuid or '${READS_ADDRESSED}' = any(${teamMember}.permissions) or ${teamMember}.roles && ?::text[])`,
        params: [message.audienceTeamMemberId ?? null, textArray(message.audienceRoles)],
      };
    },
  },
};
