import { Arg, Ctx, Field, ID, InputType, Mutation, ObjectType, Resolver } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayload } from '../../graphql/payload';
import type { Permission, TeamMember } from './team-member.entity';
import type { Patient } from './patient.entity';
import { PatientType, PermissionEnum, TeamMemberType } from './directory.types';

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
  permissions?: Permission[] | null;
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

  @Field(() => String, {
    nullable: true,
    description: 'An identifier other clinics know too (a national health number, say), unique in the organisation: a conversation another clinic hands over for a patient with this identifier is matched to this patient. Null clears it, absent leaves it.',
  })
  sharedIdentifier?: string | null;

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

/** The customer's directory and records pushed in by their service: team members and patients. */
@Resolver()
export class DirectorySyncResolver {
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
