import { isPerson, type Actor } from '../auth/actor';
import { Patient } from '../modules/directory/patient.entity';
import { TeamMember } from '../modules/directory/team-member.entity';

/**
 * What one actor may see of a person (a team member or a patient): the one place that decides
 * the fields of the TeamMember and Patient types and which patient `patient(id)` returns. The
 * resolvers ask these rules and present the answer.
 *
 * The rules that name no organisation (seesPatientRecord, seesMessagingBlockers, seesGuardians,
 * looking a patient up as staff) rely on the tenant filter: a person of another organisation
 * never reaches them.
 */

/** A team member or a patient: someone the directory lists. */
export type Person = TeamMember | Patient;

/**
 * The dependants of a guardian patient (the patients they are guardian of). A rule asks only
 * when the answer turns on a guardian link, so most viewers cost no lookup.
 */
export type DependantsOf = (guardianPatientId: string) => Promise<readonly { id: string }[]>;

/** The first word of a patient's real name: what stands in for a display name they did not choose. */
const firstName = (patient: Patient) => patient.name.split(/\s+/)[0];

export const peoplePolicy = {
  /**
   * Directory details (a team member's externalId, email, roles, permissions and archived; a
   * patient's email and phone): staff and services of the person's organisation, and a patient
   * about themself.
   */
  seesDirectoryDetails(actor: Actor | undefined, person: Person): boolean {
    if (!actor || actor.kind === 'operator' || actor.organisationId !== person.organisationId) return false;
    if (actor.kind === 'staff' || actor.kind === 'service') return true;
    return person instanceof Patient && actor.patientId === person.id;
  },

  /** A patient's real name (and first name): whoever sees their directory details, and a guardian of theirs in their organisation. */
  async seesRealName(actor: Actor | undefined, patient: Patient, dependantsOf: DependantsOf): Promise<boolean> {
    if (peoplePolicy.seesDirectoryDetails(actor, patient)) return true;
    if (actor?.kind !== 'patient' || actor.organisationId !== patient.organisationId) return false;
    return (await dependantsOf(actor.patientId)).some((dependant) => dependant.id === patient.id);
  },

  /** The name shown for a patient: the display name they chose; without one, their first name to whoever sees their real name and "Patient" to anyone else. */
  async patientDisplayName(actor: Actor | undefined, patient: Patient, dependantsOf: DependantsOf): Promise<string> {
    if (patient.displayName) return patient.displayName;
    return (await peoplePolicy.seesRealName(actor, patient, dependantsOf)) ? firstName(patient) : 'Patient';
  },

  /** A patient's record as the customer's system holds it (externalId, portalAccess, messagingEnabled, category): staff and services. */
  seesPatientRecord(actor: Actor | undefined): boolean {
    return actor?.kind === 'staff' || actor?.kind === 'service';
  },

  /** Why a patient cannot be messaged now (messagingBlockers): staff only. */
  seesMessagingBlockers(actor: Actor | undefined): boolean {
    return actor?.kind === 'staff';
  },

  /** A patient's guardians: staff only. */
  seesGuardians(actor: Actor | undefined): boolean {
    return actor?.kind === 'staff';
  },

  /** The patients a patient is guardian of: staff, and the patient themself. */
  seesDependants(actor: Actor | undefined, patient: Patient): boolean {
    return actor?.kind === 'staff' || peoplePolicy.isSelf(actor, patient);
  },

  /** Whether the caller is this very person: what only `me` tells (canStartConversation, canUploadAttachments). */
  isSelf(actor: Actor | undefined, person: Person): boolean {
    return person instanceof TeamMember ? actor?.kind === 'staff' && actor.teamMemberId === person.id : actor?.kind === 'patient' && actor.patientId === person.id;
  },

  /** Who may look a patient up by id (`patient(id)`): staff and patients; anyone else gets null without a lookup. */
  looksUpPatients(actor: Actor | undefined): boolean {
    return isPerson(actor);
  },

  /** Which patient `patient(id)` returns: to staff any patient; to a patient themself and their dependants. */
  async findsPatient(actor: Actor | undefined, patient: Patient, dependantsOf: DependantsOf): Promise<boolean> {
    if (actor?.kind === 'staff') return true;
    return actor?.kind === 'patient' && (await peoplePolicy.seesRealName(actor, patient, dependantsOf));
  },
};
