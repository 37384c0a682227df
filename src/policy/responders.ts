import type { Actor } from '../auth/actor';

/** Who answers patients, from the organisation's messaging settings. */
export interface ResponderSettings {
  /** "Accessible for all healthcare professionals". */
  allStaffRespond: boolean;
  /** The selected responders, when not all respond (the settings require at least one then). */
  responderIds: readonly string[];
}

/**
 * Does this caller answer patient-started conversations? Every team member where all respond,
 * otherwise the selected responders: the people told of a patient's new message there
 * (notifications/planner.ts: the selected responders, or, where all respond, the
 * new-patient-message role group, who can then open and answer what they are told about).
 * Messaging admins find every conversation anyway (`findAnyConversation`).
 */
export function answersPatients(actor: Actor | undefined, settings: ResponderSettings): boolean {
  if (actor?.kind !== 'staff') return false;
  return settings.allStaffRespond || settings.responderIds.includes(actor.teamMemberId);
}
