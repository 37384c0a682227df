import { eventPolicy, type Viewer, type VisibleEvent } from './events';
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
 *   themself that others may not (real name, contact details, what `me` tells them); and any
 *   viewer of an event about a note addressed to role groups.
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
  record: VisibleEvent,
  people: EventPeople,
): VisibilityClass | undefined {
  if (!eventPolicy.canSee(viewer, record)) return undefined;
  const named = people.keys.has(viewer.key) || [...(viewer.dependantKeys ?? [])].some((key) => people.keys.has(key));
  // A note addressed to role groups: who is in its audience is a question of each viewer's roles.
  if (named || record.subjectOnly || record.audienceRoles?.length) return `person:${viewer.key}`;
  return messagePolicy.seesInternalNotes(viewer) ? 'staff' : 'patient';
}

/**
 * The fields, by type, whose value is the same for every subscriber of one visibility class for
 * an event (what the event names is shown alike to all of a class). Anything else (the caller's
 * membership, unread counts, reactedByMe, lists of members or messages, a person's other
 * channels, a thread parent's author) differs per viewer.
 */
export const CLASS_INVARIANT_FIELDS: Record<string, ReadonlySet<string>> = {
  ChannelEvent: new Set(['cursor', 'type', 'createdAt', 'message', 'member', 'channel']),
  Channel: new Set(['id', 'kind', 'title', 'status', 'createdAt', 'lastActivityAt', 'patientCanReply', 'closedAt', 'unstaffedSince', 'patient']),
  // Not `parent`: its author is not among the people the event names (their details differ per viewer).
  Message: new Set(['id', 'body', 'html', 'links', 'internal', 'audienceRoles', 'system', 'createdAt', 'editedAt', 'deletedAt', 'cursor', 'replyCount', 'lastReplyAt', 'author', 'onBehalfOf', 'channel', 'attachments']),
  TeamMember: new Set(['id', 'name', 'displayName', 'externalId', 'email', 'permissions', 'roles', 'archived', 'canStartConversation', 'canUploadAttachments']),
  Patient: new Set(['id', 'name', 'displayName', 'externalId', 'email', 'phone', 'portalAccess', 'messagingEnabled', 'category', 'messagingBlockers', 'canStartConversation', 'canUploadAttachments']),
  ChannelMember: new Set(['id', 'joinedAt', 'teamMember', 'patient', 'guardianOf']),
  // Not `url`: a download URL names whom it was handed to (downloads are audited as theirs).
  Attachment: new Set(['id', 'fileName', 'contentType', 'size', 'status']),
};

/**
 * A patient viewer may be the guardian of any patient an event names (which would show them that
 * patient's real name): without looking their dependants up, every named patient counts as
 * possibly theirs, so such events never put patients in the shared `patient` class.
 */
export const possibleDependants = (people: EventPeople): ReadonlySet<string> => new Set([...people.keys].filter((key) => key.startsWith('p:')));
