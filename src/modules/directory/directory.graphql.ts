import { Arg, Ctx, Field, FieldResolver, ID, InputType, Mutation, ObjectType, Query, Resolver, Root, createUnionType, registerEnumType } from 'type-graphql';
import type { Context } from '../../graphql/context';
import type { Actor } from '../../auth/actor';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayload } from '../../graphql/payload';
import { OrganisationType } from '../organisations/organisation.graphql';
import { TeamMember, type Permission } from './team-member.entity';
import { Patient } from './patient.entity';
import { MessagingBlocker, patientBlockers } from '../settings/messageability';
import { uuid } from '../../common/validation';

registerEnumType(MessagingBlocker, {
  name: 'PatientMessagingBlocker',
  description: 'A precondition for messaging a patient that fails.',
  valuesConfig: {
    MESSAGING_DISABLED: { description: "Messaging is turned off in the patient's record." },
    CATEGORY_NOT_ENABLED: { description: "The organisation has not enabled messaging for the patient's category." },
    NO_PORTAL_ACCESS: { description: 'Neither the patient nor a guardian of theirs may use the patient portal.' },
    NO_CONTACT_DETAILS: { description: 'Neither the patient nor a guardian with portal access has an email or phone number on file.' },
  },
});

const isUuid = (value: string) => uuid('id').safeParse(value).success;

export enum PermissionEnum {
  MESSAGING_MANAGEMENT = 'MESSAGING_MANAGEMENT',
  MESSAGING_ADMIN = 'MESSAGING_ADMIN',
}
registerEnumType(PermissionEnum, {
  name: 'Permission',
  description: 'What a team member may do beyond ordinary messaging.',
  valuesConfig: {
    MESSAGING_MANAGEMENT: { description: "Create group channels, manage their participants, edit or delete others' messages." },
    MESSAGING_ADMIN: { description: 'Change messaging settings, activation rules and templates.' },
  },
});

/** Staff and services see people's directory details; a patient sees their own. */
function seesDetailsOf(actor: Actor | undefined, person: TeamMember | Patient): boolean {
  if (!actor || actor.kind === 'operator' || actor.organisationId !== person.organisationId) return false;
  if (actor.kind === 'staff' || actor.kind === 'service') return true;
  return person instanceof Patient && actor.patientId === person.id;
}

/** Details of a patient: as seesDetailsOf, and a guardian sees their dependants'. */
async function seesPatientDetails({ actor, loaders }: Context, patient: Patient): Promise<boolean> {
  if (seesDetailsOf(actor, patient)) return true;
  if (actor?.kind !== 'patient' || actor.organisationId !== patient.organisationId) return false;
  return (await loaders.dependants.load(actor.patientId)).some((dependant) => dependant.id === patient.id);
}

/** Whether the caller is this very person (what `me` may tell them about themself). */
const isSelf = (actor: Actor | undefined, person: TeamMember | Patient) =>
  person instanceof TeamMember ? actor?.kind === 'staff' && actor.teamMemberId === person.id : actor?.kind === 'patient' && actor.patientId === person.id;

@ObjectType('TeamMember', { description: 'A member of staff of the organisation.' })
export class TeamMemberType {
  @Field(() => ID, { description: 'Opaque id.' })
  id!: string;

  @Field(() => String, { description: 'Full name.' })
  name!: string;
}

@Resolver(() => TeamMemberType)
export class TeamMemberFieldResolver {
  @FieldResolver(() => String, { description: 'Name to show beside their messages (staff always show their real name).' })
  displayName(@Root() member: TeamMember): string {
    return member.name;
  }

  @FieldResolver(() => String, { nullable: true, description: "Id in the customer's own system. Staff and services only; null for patients." })
  externalId(@Root() member: TeamMember, @Ctx() { actor }: Context): string | null {
    return seesDetailsOf(actor, member) ? member.externalId : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Work email. Staff and services only; null for patients.' })
  email(@Root() member: TeamMember, @Ctx() { actor }: Context): string | null {
    return seesDetailsOf(actor, member) ? (member.email ?? null) : null;
  }

  @FieldResolver(() => [PermissionEnum], { description: 'Messaging permissions held. Empty when seen by a patient.' })
  permissions(@Root() member: TeamMember, @Ctx() { actor }: Context): Permission[] {
    return seesDetailsOf(actor, member) ? member.permissions : [];
  }

  @FieldResolver(() => [String], { description: 'Role groups, e.g. "Clinician" or "Appointment Reminder Admin". Staff and services only; empty for patients.' })
  roles(@Root() member: TeamMember, @Ctx() { actor }: Context): string[] {
    return seesDetailsOf(actor, member) ? member.roles : [];
  }

  @FieldResolver(() => Boolean, { nullable: true, description: 'Archived team members cannot sign in and are not added to channels. Staff and services only.' })
  archived(@Root() member: TeamMember, @Ctx() { actor }: Context): boolean | null {
    return seesDetailsOf(actor, member) ? member.archivedAt != null : null;
  }

  @FieldResolver(() => Boolean, { nullable: true, description: 'Whether they may start a conversation (conversationStart) under the messaging settings. Only on `me`; null for anyone else.' })
  canStartConversation(@Root() member: TeamMember, @Ctx() { actor, services }: Context): Promise<boolean> | null {
    return isSelf(actor, member) ? services.messagingSettings.canStartConversation(actor) : null;
  }

  @FieldResolver(() => Boolean, { nullable: true, description: 'Whether they may attach files to messages. Only on `me`; null for anyone else.' })
  canUploadAttachments(@Root() member: TeamMember, @Ctx() { actor, services }: Context): Promise<boolean> | null {
    return isSelf(actor, member) ? services.messagingSettings.canUploadAttachments(actor) : null;
  }
}

@ObjectType('Patient', { description: 'A patient of the organisation.' })
export class PatientType {
  @Field(() => ID, { description: 'Opaque id.' })
  id!: string;
}

@Resolver(() => PatientType)
export class PatientFieldResolver {
  @FieldResolver(() => String, {
    nullable: true,
    description: 'Real name. Staff, services, the patient themself and their guardians; null for anyone else (who see displayName).',
  })
  async name(@Root() patient: Patient, @Ctx() context: Context): Promise<string | null> {
    return (await seesPatientDetails(context, patient)) ? patient.name : null;
  }

  @FieldResolver(() => String, {
    description:
      'The name the patient chose to show. When they chose none: their first name for staff, themself and their guardians, "Patient" for anyone else.',
  })
  async displayName(@Root() patient: Patient, @Ctx() context: Context): Promise<string> {
    if (patient.displayName) return patient.displayName;
    return (await seesPatientDetails(context, patient)) ? patient.name.split(/\s+/)[0] : 'Patient';
  }

  @FieldResolver(() => String, { nullable: true, description: 'A short-lived URL of the avatar the patient chose; null when none. Whoever sees the patient.' })
  async avatarUrl(@Root() patient: Patient, @Ctx() { loaders, services }: Context): Promise<string | null> {
    if (!patient.avatarAttachmentId) return null;
    const avatar = await loaders.attachment.load(patient.avatarAttachmentId);
    return avatar ? services.attachments.downloadUrl(avatar).url : null;
  }

  @FieldResolver(() => String, { nullable: true, description: "Id in the customer's own system. Staff and services only." })
  externalId(@Root() patient: Patient, @Ctx() { actor }: Context): string | null {
    return actor?.kind === 'staff' || actor?.kind === 'service' ? patient.externalId : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Email on file. Staff, services and the patient themself.' })
  email(@Root() patient: Patient, @Ctx() { actor }: Context): string | null {
    return seesDetailsOf(actor, patient) ? (patient.email ?? null) : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Phone number on file. Staff, services and the patient themself.' })
  phone(@Root() patient: Patient, @Ctx() { actor }: Context): string | null {
    return seesDetailsOf(actor, patient) ? (patient.phone ?? null) : null;
  }

  @FieldResolver(() => Boolean, { nullable: true, description: 'Whether the patient may use the patient portal. Staff and services only.' })
  portalAccess(@Root() patient: Patient, @Ctx() { actor }: Context): boolean | null {
    return actor?.kind === 'staff' || actor?.kind === 'service' ? patient.portalAccess : null;
  }

  @FieldResolver(() => Boolean, { nullable: true, description: "Whether messaging is enabled in the patient's record. Staff and services only." })
  messagingEnabled(@Root() patient: Patient, @Ctx() { actor }: Context): boolean | null {
    return actor?.kind === 'staff' || actor?.kind === 'service' ? patient.messagingEnabled : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'The patient category (charge band) messaging is enabled by. Staff and services only.' })
  category(@Root() patient: Patient, @Ctx() { actor }: Context): string | null {
    return actor?.kind === 'staff' || actor?.kind === 'service' ? (patient.category ?? null) : null;
  }

  @FieldResolver(() => [MessagingBlocker], {
    nullable: true,
    description:
      'Why staff cannot message this patient now (empty when they can): the preconditions PATIENT_NOT_MESSAGEABLE names. Lets a portal warn before writing. Staff only; null for anyone else.',
  })
  async messagingBlockers(@Root() patient: Patient, @Ctx() { actor, loaders, services }: Context): Promise<MessagingBlocker[] | null> {
    if (actor?.kind !== 'staff') return null;
    const [guardians, settings] = await Promise.all([loaders.guardians.load(patient.id), services.messagingSettings.current()]);
    return patientBlockers(patient, guardians, settings);
  }

  @FieldResolver(() => [PatientType], { description: "Patients this patient is the guardian of (they read and write in those patients' channels). Staff and the patient themself; empty for anyone else." })
  async dependants(@Root() patient: Patient, @Ctx() { actor, loaders }: Context): Promise<Patient[]> {
    return actor?.kind === 'staff' || isSelf(actor, patient) ? loaders.dependants.load(patient.id) : [];
  }

  @FieldResolver(() => [PatientType], { description: "This patient's guardians. Staff only; empty for anyone else." })
  async guardians(@Root() patient: Patient, @Ctx() { actor, loaders }: Context): Promise<Patient[]> {
    return actor?.kind === 'staff' ? loaders.guardians.load(patient.id) : [];
  }

  @FieldResolver(() => Boolean, { nullable: true, description: 'Whether they may start a conversation under the messaging settings. Only on `me`; null for anyone else.' })
  canStartConversation(@Root() patient: Patient, @Ctx() { actor, services }: Context): Promise<boolean> | null {
    return isSelf(actor, patient) ? services.messagingSettings.canStartConversation(actor) : null;
  }

  @FieldResolver(() => Boolean, { nullable: true, description: "Whether they may attach files to messages (the organisation's settings). Only on `me`; null for anyone else." })
  canUploadAttachments(@Root() patient: Patient, @Ctx() { actor, services }: Context): Promise<boolean> | null {
    return isSelf(actor, patient) ? services.messagingSettings.canUploadAttachments(actor) : null;
  }
}

@ObjectType('ServiceClient', { description: 'A partner integration acting for one organisation.' })
export class ServiceClientType {
  @Field(() => String, { description: 'The client id from the token.' })
  clientId!: string;

  @Field(() => OrganisationType, { description: 'The organisation it acts for.' })
  organisation!: unknown;
}

@ObjectType('Operator', { description: 'A platform operator: manages organisations, sees no messaging data.' })
export class OperatorType {
  @Field(() => String, { description: 'The operator id from the token.' })
  operatorId!: string;
}

export const ActorUnion = createUnionType({
  name: 'Actor',
  description: 'Who the caller is.',
  types: () => [TeamMemberType, PatientType, ServiceClientType, OperatorType] as const,
  resolveType: (value) => {
    if (value instanceof TeamMember) return TeamMemberType;
    if (value instanceof Patient) return PatientType;
    if ('clientId' in value) return ServiceClientType;
    return OperatorType;
  },
});

@InputType({ description: 'A team member as known to the customer\'s directory; matched on externalId.' })
export class TeamMemberUpsertInput {
  @Field(() => String, { description: "Id in the customer's own system (the `sub` of their tokens)." })
  externalId!: string;

  @Field(() => String, { description: 'Full name.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Work email; null clears it, absent leaves it.' })
  email?: string | null;

  @Field(() => [String], { nullable: true, description: 'Role groups; absent leaves them unchanged.' })
  roles?: string[] | null;

  @Field(() => [PermissionEnum], { nullable: true, description: 'Messaging permissions; absent leaves them unchanged.' })
  permissions?: PermissionEnum[] | null;
}

@ObjectType({ description: 'Result of teamMemberUpsert.' })
export class TeamMemberUpsertPayload extends MutationPayload {
  @Field(() => TeamMemberType, { nullable: true, description: 'The created or updated team member.' })
  teamMember?: TeamMember | null;
}

@InputType({ description: "A patient as known to the customer's records; matched on externalId." })
export class PatientUpsertInput {
  @Field(() => String, { description: "Id in the customer's own system (the `sub` of their tokens)." })
  externalId!: string;

  @Field(() => String, { description: 'Full real name.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Email; null clears it, absent leaves it.' })
  email?: string | null;

  @Field(() => String, { nullable: true, description: 'Mobile number; null clears it, absent leaves it.' })
  phone?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'May use the patient portal (default true).' })
  portalAccess?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: "Messaging enabled for the patient's category (default true)." })
  messagingEnabled?: boolean | null;

  @Field(() => ID, { nullable: true, description: 'The team member who is the allocation clinician.' })
  allocationClinicianId?: string | null;

  @Field(() => String, { nullable: true, description: 'The patient category (charge band) in the customer\'s system; null clears it, absent leaves it.' })
  category?: string | null;

  @Field(() => [ID], { nullable: true, description: "Patients this patient is the guardian of; replaces the list when given. A guardian joins their dependants' care-team, service-team and conversation channels; one removed leaves them." })
  guardianOfPatientIds?: string[] | null;
}

@ObjectType({ description: 'Result of patientUpsert.' })
export class PatientUpsertPayload extends MutationPayload {
  @Field(() => PatientType, { nullable: true, description: 'The created or updated patient.' })
  patient?: Patient | null;
}

@InputType({ description: 'Archives a team member.' })
export class TeamMemberArchiveInput {
  @Field(() => ID, { description: 'The team member.' })
  teamMemberId!: string;
}

@ObjectType({ description: 'Result of teamMemberArchive.' })
export class TeamMemberArchivePayload extends MutationPayload {
  @Field(() => TeamMemberType, { nullable: true, description: 'The archived team member.' })
  teamMember?: TeamMember | null;
}

@InputType({ description: "A patient's own profile." })
export class ProfileUpdateInput {
  @Field(() => String, { nullable: true, description: 'The name other patients see (1 to 50 characters); null clears it, absent leaves it.' })
  displayName?: string | null;

  @Field(() => ID, { nullable: true, description: 'A READY image the patient uploaded with purpose AVATAR; null clears it, absent leaves it.' })
  avatarAttachmentId?: string | null;
}

@ObjectType({ description: 'Result of profileUpdate.' })
export class ProfileUpdatePayload extends MutationPayload {
  @Field(() => PatientType, { nullable: true, description: 'The patient.' })
  patient?: Patient | null;
}

@Resolver()
export class DirectoryResolver {
  @Query(() => PatientType, {
    nullable: true,
    description: 'A patient by id: staff see any patient of the organisation (real name and display name); a patient sees themself and their dependants; null otherwise.',
  })
  async patient(@Arg('id', () => ID, { description: 'The patient id.' }) id: string, @Ctx() context: Context): Promise<Patient | null> {
    const { actor, loaders } = context;
    if ((actor?.kind !== 'staff' && actor?.kind !== 'patient') || !isUuid(id)) return null;
    const patient = await loaders.patient.load(id);
    if (!patient) return null;
    return actor.kind === 'staff' || (await seesPatientDetails(context, patient)) ? patient : null;
  }

  @Mutation(() => ProfileUpdatePayload, { description: 'A patient sets the display name other patients see, and their avatar; staff always see the real name beside it. Patients only.' })
  profileUpdate(@Arg('input', () => ProfileUpdateInput, { description: 'The profile.' }) input: ProfileUpdateInput, @Ctx() context: Context) {
    return mutationPayload(ProfileUpdatePayload, 'patient', () => context.services.directory.updateProfile(input));
  }

  @Query(() => ActorUnion, { description: 'The caller. Any valid token.' })
  async me(@Ctx() context: Context): Promise<unknown> {
    const { actor, loaders, services } = context;
    switch (actor?.kind) {
      case 'staff':
        return loaders.teamMember.load(actor.teamMemberId);
      case 'patient':
        return loaders.patient.load(actor.patientId);
      case 'service':
        return { clientId: actor.clientId, organisation: await services.organisations.findById(actor.organisationId) };
      case 'operator':
        return { operatorId: actor.operatorId };
      default:
        return null;
    }
  }

  @Mutation(() => TeamMemberUpsertPayload, { description: 'Creates or updates a team member by externalId. Services only.' })
  teamMemberUpsert(@Arg('input', () => TeamMemberUpsertInput, { description: 'The team member as the directory knows them.' }) input: TeamMemberUpsertInput, @Ctx() context: Context) {
    return mutationPayload(TeamMemberUpsertPayload, 'teamMember', () => context.services.directory.upsertTeamMember(input));
  }

  @Mutation(() => TeamMemberArchivePayload, {
    description:
      "Archives a team member: their tokens stop working, their open connections close at once (4403) in every server process, and they leave every channel. A patient channel left without a team member gets the patient's allocation clinician or, with none, is flagged for messaging admins (unstaffedChannels). Archiving again changes nothing. Services only.",
  })
  teamMemberArchive(@Arg('input', () => TeamMemberArchiveInput, { description: 'Who to archive.' }) input: TeamMemberArchiveInput, @Ctx() context: Context) {
    return mutationPayload(TeamMemberArchivePayload, 'teamMember', () => context.services.directory.archiveTeamMember(input));
  }

  @Mutation(() => PatientUpsertPayload, {
    description:
      "Creates or updates a patient by externalId. On creation the activation rules open their channels (same transaction). Guardian links add the guardian to the dependants' care-team, service-team and conversation channels, and a removed link takes them out. A new allocation clinician staffs the patient's unstaffed channels. Services only.",
  })
  patientUpsert(@Arg('input', () => PatientUpsertInput, { description: 'The patient as the records system knows them.' }) input: PatientUpsertInput, @Ctx() context: Context) {
    return mutationPayload(PatientUpsertPayload, 'patient', () => context.services.directory.upsertPatient(input));
  }
}
