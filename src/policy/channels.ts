import type { Actor, PersonActor } from '../auth/actor';
import { ChannelKind, ChannelStatus, type Channel, type ChannelMember } from '../modules/channels/channel.entity';
import { can } from './permissions';

/**
 * Who may see which channel, as predicates on loaded rows and as SQL fragments that list, count,
 * search, loader, feed and notification queries compose. Every rule about channel kinds and
 * audiences lives here; no SQL elsewhere spells a channel kind, but for the `on conflict ... where
 * kind ...` clauses that name a partial unique index (creation, not visibility).
 */

/** Kinds a patient (or guardian) can be a member of; the rest (STAFF, DIRECT) are staff-only. */
export const PATIENT_VISIBLE_KINDS: ReadonlySet<ChannelKind> = new Set([ChannelKind.CARE_TEAM, ChannelKind.SERVICE_TEAM, ChannelKind.GROUP, ChannelKind.CONVERSATION]);

/** Kinds about one patient: they always keep at least one team member. */
export const PATIENT_CHANNEL_KINDS: ReadonlySet<ChannelKind> = new Set([ChannelKind.CARE_TEAM, ChannelKind.SERVICE_TEAM, ChannelKind.STAFF, ChannelKind.CONVERSATION]);

/**
 * Kinds about one patient that the patient is in (with their guardians): messages in them reach
 * the patient, who stays in them for as long as they exist. STAFF is the one patient kind left out.
 */
export const PATIENT_SIDE_KINDS: ReadonlySet<ChannelKind> = new Set([ChannelKind.CARE_TEAM, ChannelKind.SERVICE_TEAM, ChannelKind.CONVERSATION]);

/** Patient-linked kinds that any team member of the organisation may find, join and activate. */
export const JOINABLE_BY_STAFF: ReadonlySet<ChannelKind> = new Set([ChannelKind.CARE_TEAM, ChannelKind.SERVICE_TEAM, ChannelKind.STAFF]);

/** A set of kinds as an SQL condition on a channel alias (the values are the enum's, never input). */
const kindIn = (kinds: ReadonlySet<ChannelKind>, channel: string) => `${channel}.kind in (${[...kinds].map((kind) => `'${kind}'`).join(', ')})`;

/** A condition and the values of its `?` placeholders, in order. */
export interface SqlFragment {
  sql: string;
  params: unknown[];
}

/** Who an actor is in a membership row: the column naming them and their id. */
export function memberColumn(person: Pick<PersonActor, 'kind'> & { teamMemberId?: string; patientId?: string }): { column: 'team_member_id' | 'patient_id'; id: string } {
  return person.kind === 'staff' ? { column: 'team_member_id', id: person.teamMemberId! } : { column: 'patient_id', id: person.patientId! };
}

/** What the channel rules read of a channel row. */
export type ChannelFacts = Pick<Channel, 'kind' | 'organisationId'> & { startedByPatient?: boolean; startedByClinic?: boolean; status?: ChannelStatus };

/** Kinds addressed to chosen members, that messaging admins (findAnyConversation) also find: patient conversations and conversations with other clinics. */
const ADDRESSED_KINDS: ReadonlySet<ChannelKind> = new Set([ChannelKind.CONVERSATION, ChannelKind.CLINIC]);

/**
 * A conversation that is still open and was started from outside the team, by a patient or by
 * another clinic: what the organisation's responders who are not members may find, open and answer.
 */
const openToAnswer = (channel: ChannelFacts) =>
  channel.status === ChannelStatus.ACTIVE &&
  ((channel.kind === ChannelKind.CONVERSATION && channel.startedByPatient === true) || (channel.kind === ChannelKind.CLINIC && channel.startedByClinic === true));

/**
 * Conversations are addressed to chosen team members: besides their members, messaging admins
 * find and join them (to staff one left without a responder), and a conversation a patient
 * started is also found by those who answer patients (`answers`: responders.ts).
 */
function findableBy(actor: Actor | undefined, channel: ChannelFacts, answers: boolean): boolean {
  if (actor?.kind !== 'staff' || actor.organisationId !== channel.organisationId) return false;
  if (JOINABLE_BY_STAFF.has(channel.kind)) return true;
  return (ADDRESSED_KINDS.has(channel.kind) && can(actor, 'findAnyConversation')) || (answers && openToAnswer(channel));
}

export const channelPolicy = {
  /**
   * May the caller know this channel exists (query it by id, see it on a patient's profile)?
   * `membership` is the caller's own current membership row of the channel, if any.
   */
  canSee(actor: Actor | undefined, channel: ChannelFacts, membership: ChannelMember | undefined, answers = false): boolean {
    if (!actor || actor.kind === 'operator' || actor.kind === 'service') return false;
    if (actor.organisationId !== channel.organisationId) return false;
    if (actor.kind === 'patient') return membership !== undefined && PATIENT_VISIBLE_KINDS.has(channel.kind);
    return membership !== undefined || findableBy(actor, channel, answers);
  },

  /**
   * May the caller read its messages, follow its events and write in it? (Unread counts need no
   * check: they are counted over the caller's own membership rows.)
   */
  canParticipate(actor: Actor | undefined, channel: ChannelFacts, membership: ChannelMember | undefined): boolean {
    return membership !== undefined && channelPolicy.canSee(actor, channel, membership);
  },

  /** May the caller join it by themself (channelJoin)? */
  canJoin(actor: Actor | undefined, channel: ChannelFacts, answers = false): boolean {
    return findableBy(actor, channel, answers);
  },

  /**
   * May a team member who is not (yet) a member open a conversation a patient started, reading
   * its messages to answer it? Those who may join it: they become a member when they answer.
   */
  canOpenToAnswer(actor: Actor | undefined, channel: ChannelFacts, answers: boolean): boolean {
    return openToAnswer(channel) && findableBy(actor, channel, answers);
  },

  /** Whether the caller's access to it turns on whether they answer patients (worth reading the settings for). */
  turnsOnResponders(actor: Actor | undefined, channel: ChannelFacts, membership: ChannelMember | undefined): boolean {
    return actor?.kind === 'staff' && membership === undefined && openToAnswer(channel);
  },

  /** Is it a titled conversation (with a patient or another clinic), which is started and closed? */
  isConversation: (kind: ChannelKind) => ADDRESSED_KINDS.has(kind),

  /** Is it a conversation with another clinic (messages cross to the other clinic's copy)? */
  crossesClinics: (kind: ChannelKind) => kind === ChannelKind.CLINIC,

  /** Whether a channel is left without staff (`unstaffedSince`) is staff-only. */
  seesStaffing: (actor: Actor | undefined) => actor?.kind === 'staff',

  /** Which kinds a team member activates from a patient's profile. */
  isActivatable: (kind: ChannelKind) => JOINABLE_BY_STAFF.has(kind),

  /** Does the channel's patient (with their guardians) stay in it for as long as it exists? */
  patientStays: (kind: ChannelKind) => PATIENT_SIDE_KINDS.has(kind),

  /** Do messages in it reach its patient (so the patient's messaging preconditions, auto replies and new-patient-message notices apply)? */
  reachesPatient: (kind: ChannelKind) => PATIENT_SIDE_KINDS.has(kind),

  /**
   * Is the new-patient-message role group (or the selected responders) told of a patient's message
   * in it (or of another clinic's)? Only where they may open it: the patient channels any team member
   * joins, and the conversations a patient or another clinic started (one a team member started is
   * its members' to answer).
   */
  tellsResponders: (channel: { kind: ChannelKind; startedByPatient: boolean; startedByClinic?: boolean }) =>
    (PATIENT_SIDE_KINDS.has(channel.kind) && (channel.kind !== ChannelKind.CONVERSATION || channel.startedByPatient)) || (channel.kind === ChannelKind.CLINIC && channel.startedByClinic === true),

  /**
   * Are the messaging admins told of a patient's new message in it? Where nobody else would be: a
   * conversation a team member started that has been left without staff (admins find and join it).
   */
  tellsAdmins: (channel: { kind: ChannelKind; startedByPatient: boolean; unstaffed: boolean }) =>
    channel.unstaffed && PATIENT_SIDE_KINDS.has(channel.kind) && !channelPolicy.tellsResponders(channel),

  /** Must it keep at least one team member? */
  keepsTeamMember: (kind: ChannelKind) => PATIENT_CHANNEL_KINDS.has(kind),

  /** Can it hold internal notes (only where patients are; elsewhere everything is staff-only already)? */
  holdsInternalNotes: (kind: ChannelKind) => PATIENT_VISIBLE_KINDS.has(kind),

  sql: {
    /**
     * The caller's channels as `c` joined to their membership rows `m`: restricts `m` to the
     * caller and `c` to the kinds they may see. Params: the person's id.
     */
    ownMemberships(person: PersonActor, channel: string, member: string): SqlFragment {
      const { column, id } = memberColumn(person);
      return { sql: `${member}.${column} = ? and ${channelPolicy.sql.kindsVisibleTo(person, channel)}`, params: [id] };
    },

    /** The kinds of channel `c` this kind of person may see at all, as a condition (`true` for staff). */
    kindsVisibleTo(reader: { kind: string }, channel: string): string {
      return reader.kind === 'staff' ? 'true' : kindIn(PATIENT_VISIBLE_KINDS, channel);
    },

    /**
     * `canSee` as a condition on channel `c`: for staff, membership or a kind they may find; for
     * patients, membership of a kind they may see. The organisation is the caller's condition
     * (`c.organisation_id = ?`), as in every tenant query.
     */
    visible(actor: PersonActor, channel: string, answers = false): SqlFragment {
      const { column, id } = memberColumn(actor);
      const member = `exists (select 1 from channel_member vm where vm.organisation_id = ${channel}.organisation_id and vm.channel_id = ${channel}.id
                              and vm.${column} = ? and vm.left_at is null)`;
      if (actor.kind === 'patient') return { sql: `(${kindIn(PATIENT_VISIBLE_KINDS, channel)} and ${member})`, params: [id] };
      const findable = can(actor, 'findAnyConversation') ? new Set([...JOINABLE_BY_STAFF, ...ADDRESSED_KINDS]) : JOINABLE_BY_STAFF;
      const answered = answers ? ` or (${channelPolicy.sql.awaitingAnswer(channel)})` : '';
      return { sql: `(${kindIn(findable, channel)} or ${member}${answered})`, params: [id] };
    },

    /** Open conversations a patient or another clinic started (what responders who are not members find and answer). */
    awaitingAnswer: (channel: string) =>
      `${channel}.status = '${ChannelStatus.ACTIVE}' and ((${channel}.kind = '${ChannelKind.CONVERSATION}' and ${channel}.started_by_patient) or (${channel}.kind = '${ChannelKind.CLINIC}' and ${channel}.started_by_clinic))`,

    /** Channels that must keep a team member (restaffing). */
    keepsTeamMember: (channel: string) => kindIn(PATIENT_CHANNEL_KINDS, channel),

    /** Channels the patient (and their guardians) are in: a guardian joins these of a dependant's. */
    patientSide: (channel: string) => kindIn(PATIENT_SIDE_KINDS, channel),
  },
};
