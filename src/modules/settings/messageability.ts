import type { PersonActor } from '../../auth/actor';
import { UserError, UserErrorCode } from '../../errors';
import type { Patient } from '../directory/patient.entity';
import type { MessagingSettings } from './messaging-settings.service';

/** Why a patient cannot be messaged. Named to staff only. */
export enum MessagingBlocker {
  /** The patient's record has messaging turned off. */
  MESSAGING_DISABLED = 'MESSAGING_DISABLED',
  /** The organisation has not enabled messaging for the patient's category. */
  CATEGORY_NOT_ENABLED = 'CATEGORY_NOT_ENABLED',
  /** Neither the patient nor a guardian of theirs may use the patient portal. */
  NO_PORTAL_ACCESS = 'NO_PORTAL_ACCESS',
  /** Neither the patient nor a guardian with portal access has an email or phone number on file. */
  NO_CONTACT_DETAILS = 'NO_CONTACT_DETAILS',
}

/** Whether the organisation lets this patient use messaging at all (their own switch and their category). */
export function entitlementBlockers(patient: Patient, settings: MessagingSettings): MessagingBlocker[] {
  const blockers: MessagingBlocker[] = [];
  if (!patient.messagingEnabled) blockers.push(MessagingBlocker.MESSAGING_DISABLED);
  if (!settings.messagingForAllPatientCategories && !(patient.category && settings.messagingPatientCategories.includes(patient.category))) {
    blockers.push(MessagingBlocker.CATEGORY_NOT_ENABLED);
  }
  return blockers;
}

function reachBlockers(person: Patient): MessagingBlocker[] {
  if (!person.portalAccess || person.archivedAt) return [MessagingBlocker.NO_PORTAL_ACCESS];
  return person.email || person.phone ? [] : [MessagingBlocker.NO_CONTACT_DETAILS];
}

/**
 * Every precondition for staff to message a patient that fails: entitled to messaging, and
 * reachable (portal access and an email or phone on file), themself or through a guardian
 * (a dependant's guardian reads and replies for them).
 */
export function patientBlockers(patient: Patient, guardians: readonly Patient[], settings: MessagingSettings): MessagingBlocker[] {
  const own = reachBlockers(patient);
  const reach = own.length === 0 || guardians.some((guardian) => reachBlockers(guardian).length === 0) ? [] : own;
  return [...entitlementBlockers(patient, settings), ...reach];
}

const DESCRIPTIONS: Record<MessagingBlocker, string> = {
  MESSAGING_DISABLED: 'messaging is turned off in their record',
  CATEGORY_NOT_ENABLED: 'messaging is not enabled for their patient category',
  NO_PORTAL_ACCESS: 'they have no patient portal access',
  NO_CONTACT_DETAILS: 'they have no email address or phone number on file',
};

/** PATIENT_NOT_MESSAGEABLE: staff are told which preconditions failed; patients are not. */
export function notMessageable(actor: PersonActor, blockers: readonly MessagingBlocker[], field: string): UserError {
  const message =
    actor.kind === 'staff'
      ? `This patient cannot be messaged: ${blockers.map((blocker) => DESCRIPTIONS[blocker]).join('; ')}.`
      : 'Messaging is not available for this account. Please contact your clinic.';
  return new UserError(UserErrorCode.PATIENT_NOT_MESSAGEABLE, message, field);
}
