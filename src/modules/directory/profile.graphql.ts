import { Arg, Ctx, Field, ID, InputType, Mutation, ObjectType, Resolver } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayloadOf } from '../../graphql/payload';
import type { Patient } from './patient.entity';
import { TeamMember } from './team-member.entity';
import { PatientType, TeamMemberType } from './directory.types';

@InputType({ description: "A person's own profile: a patient's display name and avatar, a team member's avatar." })
export class ProfileUpdateInput {
  @Field(() => String, { nullable: true, description: 'The name other patients see (1 to 50 characters); null clears it, absent leaves it. Patients only (team members always show their real name: INVALID_INPUT).' })
  displayName?: string | null;

  @Field(() => ID, { nullable: true, description: 'A READY image the caller uploaded with purpose AVATAR; null clears it, absent leaves it.' })
  avatarAttachmentId?: string | null;
}

@ObjectType({ description: 'Result of profileUpdate.' })
export class ProfileUpdatePayload extends MutationPayload {
  @Field(() => PatientType, { nullable: true, description: 'The patient, when a patient updated their profile.' })
  patient?: Patient | null;

  @Field(() => TeamMemberType, { nullable: true, description: 'The team member, when a team member updated their profile.' })
  teamMember?: TeamMember | null;
}

/** A person's own profile: the display name (patients) and avatar others see. */
@Resolver()
export class ProfileResolver {
  @Mutation(() => ProfileUpdatePayload, {
    description: 'A patient sets the display name other patients see, and their avatar (staff always see the real name beside it); a team member sets their avatar. Patients and team members, each their own.',
  })
  profileUpdate(@Arg('input', () => ProfileUpdateInput, { description: 'The profile.' }) input: ProfileUpdateInput, @Ctx() context: Context) {
    return mutationPayloadOf(ProfileUpdatePayload, async () => {
      const updated = await context.services.directory.updateProfile(input);
      return updated instanceof TeamMember ? { teamMember: updated } : { patient: updated };
    });
  }
}
