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
export const eventPolicy = {
  canSee(viewer: Viewer, record: Pick<ChannelEventRecord, 'staffOnly' | 'subjectOnly' | 'subjectTeamMemberId' | 'subjectPatientId'>): boolean {
    if (record.subjectOnly && subjectKey(record) !== viewer.key) return false;
    return !record.staffOnly || messagePolicy.seesInternalNotes(viewer);
  },

  /** Typing notices: never one's own, and typing an internal note only to staff. */
  canSeeTyping(viewer: Viewer, notice: Pick<TypingNotice, 'staffOnly' | 'teamMemberId' | 'patientId'>): boolean {
    if (personKey(notice) === viewer.key) return false;
    return !notice.staffOnly || messagePolicy.seesInternalNotes(viewer);
  },

  sql: {
    /**
     * For a reader who is not staff, on event alias `e`: staff-only events left out (as `canSee`),
     * and events of channels of kinds they may never see (the in-memory path gets this from the
     * feed's audience, which only ever holds patients of those kinds). Append to a condition.
     */
    andVisibleTo(reader: Reader, event: string): string {
      if (messagePolicy.seesInternalNotes(reader)) return '';
      return ` and not ${event}.staff_only and exists (select 1 from channel vc where vc.organisation_id = ${event}.organisation_id and vc.id = ${event}.channel_id
                                                     and ${channelPolicy.sql.kindsVisibleTo(reader, 'vc')})`;
    },
  },
};
