import type { ChannelEventRecord } from '../realtime/channel-event.entity';
import { eventPolicy, type Viewer } from './events';
import { messagePolicy } from './messages';

/**
 * The visibility class of a subscriber for one event: subscribers of the same class are shown
 * the same data for what the event itself names (its message, author, the patient written for,
 * the member, the channel and its patient), so a selection of only those can be executed once per
 * class instead of once per subscriber. A selection that reaches beyond them is per viewer and
 * must be executed per subscriber: `myMembership`, `unreadCount`, `reactedByMe`, and any list of
 * people such as `channel.members` (there a patient sees their own contact details and a
 * guardian their dependant's real name, whoever the event names).
 *
 * - `staff`: any team member who is not named in the event: staff see internal notes, real
 *   names and staff-only fields alike.
 * - `patient`: any patient or guardian who is not named in the event and none of whose
 *   dependants is: they see display names and no staff-only data.
 * - `person:<key>`: the viewer, or a dependant they act for, is named in the event (its author,
 *   the patient it was written for, its subject, the channel's patient): they may see details of
 *   themself that others may not (real name, contact details, what `me` tells them).
 *
 * Undefined: the viewer is not told of the event at all.
 */
export type VisibilityClass = 'staff' | 'patient' | `person:${string}`;

/** The people an event names, as person keys (see `personKey`). */
export interface EventPeople {
  readonly keys: ReadonlySet<string>;
}

/** A subscriber, with the person keys of the dependants they read and write for (guardians). */
export interface ClassifiedViewer extends Viewer {
  dependantKeys?: ReadonlySet<string>;
}

export function visibilityClassOf(
  viewer: ClassifiedViewer,
  record: Pick<ChannelEventRecord, 'staffOnly' | 'subjectOnly' | 'subjectTeamMemberId' | 'subjectPatientId'>,
  people: EventPeople,
): VisibilityClass | undefined {
  if (!eventPolicy.canSee(viewer, record)) return undefined;
  const named = people.keys.has(viewer.key) || [...(viewer.dependantKeys ?? [])].some((key) => people.keys.has(key));
  if (named || record.subjectOnly) return `person:${viewer.key}`;
  return messagePolicy.seesInternalNotes(viewer) ? 'staff' : 'patient';
}
