import { Field, ID, InterfaceType, ObjectType, registerEnumType } from 'type-graphql';
import { PERMISSIONS, type Permission } from './team-member.entity';
import { MessagingBlocker } from '../settings/messageability';

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

/** PERMISSIONS as the enum object the GraphQL `Permission` enum is registered from (each value named after itself). */
export const PermissionEnum = Object.fromEntries(PERMISSIONS.map((permission) => [permission, permission])) as { readonly [P in Permission]: P };

/** A description for every permission: one added to PERMISSIONS without one does not compile. */
const permissionDescriptions: Record<Permission, { description: string }> = {
  MESSAGING_MANAGEMENT: { description: "Create group channels, manage their participants, edit or delete others' messages." },
  MESSAGING_ADMIN: { description: 'Change messaging settings, activation rules, message and notification templates; read the audit log; list unstaffed channels and find and join any conversation.' },
};

registerEnumType(PermissionEnum, {
  name: 'Permission',
  description: 'What a team member may do beyond ordinary messaging.',
  valuesConfig: permissionDescriptions,
});

/**
 * What every person shares, with the same types on each: a fragment on Person (or the same field
 * on Patient and TeamMember side by side) needs no aliases. Each type's resolvers fill the fields.
 */
@InterfaceType('Person', {
  description: 'A patient or a team member: what every person shows, typed alike on each (select these through `... on Person` in `me`, authors and members).',
  resolveType: (value: object) => ('roles' in value ? 'TeamMember' : 'Patient'),
})
export abstract class PersonInterface {
  @Field(() => ID, { description: 'Opaque id.' })
  id!: string;

  @Field(() => String, { description: 'The name to show beside their messages.' })
  displayName!: string;

  @Field(() => String, { nullable: true, description: 'Full (real) name; null where the caller may not see it (a patient seen by another patient).' })
  fullName?: string | null;

  @Field(() => String, { nullable: true, description: 'A short-lived URL of the avatar they chose; null when none.' })
  avatarUrl?: string | null;
}

@ObjectType('TeamMember', { description: 'A member of staff of the organisation.', implements: PersonInterface })
export class TeamMemberType extends PersonInterface {
  @Field(() => String, { description: 'Full name.', deprecationReason: 'Use fullName (Person): the same type on patients and team members, so fragments need no aliases.' })
  name!: string;
}

@ObjectType('Patient', { description: 'A patient of the organisation.', implements: PersonInterface })
export class PatientType extends PersonInterface {}
