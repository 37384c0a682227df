import { Arg, Ctx, Field, FieldResolver, ID, InputType, Mutation, ObjectType, Query, Resolver, Root, createUnionType, registerEnumType } from 'type-graphql';
import type { Context } from '../../graphql/context';
import type { Actor } from '../../auth/actor';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayload } from '../../graphql/payload';
import { OrganisationType } from '../organisations/organisation.graphql';
import { TeamMember, type Permission } from './team-member.entity';
import { Patient } from './patient.entity';

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
    description: 'Real name. Staff, services and the patient themself; null for anyone else (who see displayName).',
  })
  name(@Root() patient: Patient, @Ctx() { actor }: Context): string | null {
    return seesDetailsOf(actor, patient) ? patient.name : null;
  }

  @FieldResolver(() => String, {
    description:
      'The name the patient chose to show. When they chose none: their first name for staff and themself, "Patient" for anyone else.',
  })
  displayName(@Root() patient: Patient, @Ctx() { actor }: Context): string {
    if (patient.displayName) return patient.displayName;
    return seesDetailsOf(actor, patient) ? patient.name.split(/\s+/)[0] : 'Patient';
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

  @FieldResolver(() => Boolean, { nullable: true, description: "Whether messaging is enabled for the patient's category. Staff and services only." })
  messagingEnabled(@Root() patient: Patient, @Ctx() { actor }: Context): boolean | null {
    return actor?.kind === 'staff' || actor?.kind === 'service' ? patient.messagingEnabled : null;
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

  @Field(() => [ID], { nullable: true, description: 'Patients this patient is the guardian of; replaces the list when given.' })
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

@Resolver()
export class DirectoryResolver {
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
      'Archives a team member: their tokens stop working and their open connections close at once (4403), in every server process. Archiving again changes nothing. Services only.',
  })
  teamMemberArchive(@Arg('input', () => TeamMemberArchiveInput, { description: 'Who to archive.' }) input: TeamMemberArchiveInput, @Ctx() context: Context) {
    return mutationPayload(TeamMemberArchivePayload, 'teamMember', () => context.services.directory.archiveTeamMember(input));
  }

  @Mutation(() => PatientUpsertPayload, { description: 'Creates or updates a patient by externalId. Services only.' })
  patientUpsert(@Arg('input', () => PatientUpsertInput, { description: 'The patient as the records system knows them.' }) input: PatientUpsertInput, @Ctx() context: Context) {
    return mutationPayload(PatientUpsertPayload, 'patient', () => context.services.directory.upsertPatient(input));
  }
}
