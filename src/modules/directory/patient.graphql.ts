import { Arg, Ctx, FieldResolver, ID, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { peoplePolicy, type DependantsOf } from '../../policy/people';
import { isUuid } from '../../common/validation';
import { MessagingBlocker, patientBlockers } from '../settings/messageability';
import { Patient } from './patient.entity';
import { PatientType } from './directory.types';


/** The people policy's guardian lookup, through the request's loader. */
const dependantsOf = ({ loaders }: Context): DependantsOf => (guardianPatientId) => loaders.dependants.load(guardianPatientId);

/** The `patient` query and the fields of a patient; what the caller sees of them is the people policy's. */
@Resolver(() => PatientType)
export class PatientResolver {
  @Query(() => PatientType, {
    nullable: true,
    description: 'A patient by id: staff see any patient of the organisation (real name and display name); a patient sees themself and their dependants; null otherwise.',
  })
  async patient(@Arg('id', () => ID, { description: 'The patient id.' }) id: string, @Ctx() context: Context): Promise<Patient | null> {
    const { actor, loaders } = context;
    if (!peoplePolicy.looksUpPatients(actor) || !isUuid(id)) return null;
    // A patient's dependants are read whether or not the id exists: another patient and a random id cost the same.
    const [patient] = await Promise.all([loaders.patient.load(id), actor?.kind === 'patient' && id !== actor.patientId ? loaders.dependants.load(actor.patientId) : undefined]);
    if (!patient) return null;
    return (await peoplePolicy.findsPatient(actor, patient, dependantsOf(context))) ? patient : null;
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: 'Real name. Staff, services, the patient themself and their guardians; null for anyone else (who see displayName).',
    deprecationReason: 'Use fullName (Person): the same type on patients and team members, so fragments need no aliases.',
  })
  name(@Root() patient: Patient, @Ctx() context: Context): Promise<string | null> {
    return this.fullName(patient, context);
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: 'Real name. Staff, services, the patient themself and their guardians; null for anyone else (who see displayName).',
  })
  async fullName(@Root() patient: Patient, @Ctx() context: Context): Promise<string | null> {
    return (await peoplePolicy.seesRealName(context.actor, patient, dependantsOf(context))) ? patient.name : null;
  }

  @FieldResolver(() => String, {
    description:
      'The name the patient chose to show. When they chose none: their first name for staff, themself and their guardians, "Patient" for anyone else.',
  })
  displayName(@Root() patient: Patient, @Ctx() context: Context): Promise<string> {
    return peoplePolicy.patientDisplayName(context.actor, patient, dependantsOf(context));
  }

  @FieldResolver(() => String, { nullable: true, description: 'A short-lived URL of the avatar the patient chose; null when none. Whoever sees the patient.' })
  async avatarUrl(@Root() patient: Patient, @Ctx() { loaders, services }: Context): Promise<string | null> {
    if (!patient.avatarAttachmentId) return null;
    const avatar = await loaders.attachment.load(patient.avatarAttachmentId);
    return avatar ? services.attachments.downloadUrl(avatar).url : null;
  }

  @FieldResolver(() => String, { nullable: true, description: "Id in the customer's own system. Staff and services only." })
  externalId(@Root() patient: Patient, @Ctx() { actor }: Context): string | null {
    return peoplePolicy.seesPatientRecord(actor) ? patient.externalId : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'An identifier other clinics know too (a national health number, say): matches the patient when another clinic hands a conversation over. Staff and services only.' })
  sharedIdentifier(@Root() patient: Patient, @Ctx() { actor }: Context): string | null {
    return peoplePolicy.seesPatientRecord(actor) ? (patient.sharedIdentifier ?? null) : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Email on file. Staff, services and the patient themself.' })
  email(@Root() patient: Patient, @Ctx() { actor }: Context): string | null {
    return peoplePolicy.seesDirectoryDetails(actor, patient) ? (patient.email ?? null) : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Phone number on file. Staff, services and the patient themself.' })
  phone(@Root() patient: Patient, @Ctx() { actor }: Context): string | null {
    return peoplePolicy.seesDirectoryDetails(actor, patient) ? (patient.phone ?? null) : null;
  }

  @FieldResolver(() => Boolean, { nullable: true, description: 'Whether the patient may use the patient portal. Staff and services only.' })
  portalAccess(@Root() patient: Patient, @Ctx() { actor }: Context): boolean | null {
    return peoplePolicy.seesPatientRecord(actor) ? patient.portalAccess : null;
  }

  @FieldResolver(() => Boolean, { nullable: true, description: "Whether messaging is enabled in the patient's record. Staff and services only." })
  messagingEnabled(@Root() patient: Patient, @Ctx() { actor }: Context): boolean | null {
    return peoplePolicy.seesPatientRecord(actor) ? patient.messagingEnabled : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'The patient category (charge band) messaging is enabled by. Staff and services only.' })
  category(@Root() patient: Patient, @Ctx() { actor }: Context): string | null {
    return peoplePolicy.seesPatientRecord(actor) ? (patient.category ?? null) : null;
  }

  @FieldResolver(() => [MessagingBlocker], {
    nullable: true,
    description:
      'Why staff cannot message this patient now (empty when they can): the preconditions PATIENT_NOT_MESSAGEABLE names. Lets a portal warn before writing. Staff only; null for anyone else.',
  })
  async messagingBlockers(@Root() patient: Patient, @Ctx() { actor, loaders, services }: Context): Promise<MessagingBlocker[] | null> {
    if (!peoplePolicy.seesMessagingBlockers(actor)) return null;
    const [guardians, settings] = await Promise.all([loaders.guardians.load(patient.id), services.messagingSettings.current()]);
    return patientBlockers(patient, guardians, settings);
  }

  @FieldResolver(() => [PatientType], { description: "Patients this patient is the guardian of (they read and write in those patients' channels). Staff and the patient themself; empty for anyone else." })
  async dependants(@Root() patient: Patient, @Ctx() { actor, loaders }: Context): Promise<Patient[]> {
    return peoplePolicy.seesDependants(actor, patient) ? loaders.dependants.load(patient.id) : [];
  }

  @FieldResolver(() => [PatientType], { description: "This patient's guardians. Staff only; empty for anyone else." })
  async guardians(@Root() patient: Patient, @Ctx() { actor, loaders }: Context): Promise<Patient[]> {
    return peoplePolicy.seesGuardians(actor) ? loaders.guardians.load(patient.id) : [];
  }

  @FieldResolver(() => Boolean, { nullable: true, description: 'Whether they may start a conversation under the messaging settings. Only on `me`; null for anyone else.' })
  canStartConversation(@Root() patient: Patient, @Ctx() { actor, services }: Context): Promise<boolean> | null {
    return peoplePolicy.isSelf(actor, patient) ? services.messagingSettings.canStartConversation(actor) : null;
  }

  @FieldResolver(() => Boolean, { nullable: true, description: "Whether they may attach files to messages (the organisation's settings). Only on `me`; null for anyone else." })
  canUploadAttachments(@Root() patient: Patient, @Ctx() { actor, services }: Context): Promise<boolean> | null {
    return peoplePolicy.isSelf(actor, patient) ? services.messagingSettings.canUploadAttachments(actor) : null;
  }
}
