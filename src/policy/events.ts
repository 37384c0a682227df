import type { ChannelEventRecord } from '../realtime/channel-event.entity';
import type { TypingNotice } from '../realtime/bus';
import { channelPolicy } from './channels';
import { messagePolicy, type Reader } from './messages';

/** `t:<id>` for a team member, `p:<id>` for a patient. */
export const personKey = (person: { teamMemberId?: string | null; patientId?: string | null }): string =>
  person.teamMemberId ? `t:${person.teamMemberId}` : `p:${person.patientId}`;

/** The person a membership, read, archive or mute event is about, or undefined. */
export const subjectKey = (record: Pick<ChannelEventRecord, 'subjectTeamMemberId' | 'subjectPatientId'>): string | undefined =>
  record.subjectTeamMemberId || record.subjectPatientId ? personKey({ teamMemberId: record.subjectTeamMemberId, patientId: record.subjectPatientId }) : undefined;

/** A subscriber of live events: their kind and person key. */
export interface Viewer extends Reader {
  key: string;
}

/**
 * Who is told of which channel event and typing notice: staff-only events (about internal
 * notes) never reach patients, and an event about one member's own state (read marks,
 * archiving, muting) reaches only that member.
 */
/** What decides who is told of an event. */
export type VisibleEvent = Pick<ChannelEventRecord, 'staffOnly' | 'subjectOnly' | 'subjectTeamMemberId' | 'subjectPatientId' | 'audienceRoles' | 'audienceTeamMemberId'>;

export const eventPolicy = {
  canSee(viewer: Viewer, record: VisibleEvent): boolean {
    if (record.subjectOnly && subjectKey(record) !== viewer.key) return false;
    if (!record.staffOnly) return true;
    return messagePolicy.seesInternalNotes(viewer) && messagePolicy.inAudience(viewer, record.audienceRoles, record.audienceTeamMemberId);
  },

  /** Typing notices: never one's own, and typing an internal note only to staff. */
  canSeeTyping(viewer: Viewer, notice: Pick<TypingNotice, 'staffOnly' | 'teamMemberId' | 'patientId'>): boolean {
    if (personKey(notice) === viewer.key) return false;
    return !notice.staffOnly || messagePolicy.seesInternalNotes(viewer);
  },

  sql: {
    /**
     * On event alias `e`, as `canSee` (the subject rule aside): for a reader who is not staff,
     * staff-only events left out, and events of channels of kinds they may never see (the
     * in-memory path gets this from the feed's audience, which only ever holds patients of those
     * kinds); for a team member, events about notes addressed to role groups they are not in
     * (their roles as they are in the database now). Append to a condition; the parameters go where it goes.
     */
    visibleTo(reader: Reader, event: string): { sql: string; params: unknown[] } {
      if (messagePolicy.seesInternalNotes(reader)) {
        return messagePolicy.sql.andInAudience(reader, { roles: `${event}.audience_roles`, author: `${event}.audience_team_member_id`, organisation: `${event}.organisation_id` });
      }
      return {
        sql: ` and not ${event}.staff_only and exists (select 1 from channel vc where vc.organisation_id = ${event}.organisation_id and vc.id = ${event}.channel_id
                                                     and ${channelPolicy.sql.kindsVisibleTo(reader, 'vc')})`,
        params: [],
      };
    },
  },
};
