import { Arg, Ctx, Field, ID, InputType, Mutation, ObjectType, Resolver } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayload } from '../../graphql/payload';
import type { Patient } from './patient.entity';
import { PatientType } from './directory.types';

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

/** A patient's own profile: the display name and avatar others see. */
@Resolver()
export class ProfileResolver {
  @Mutation(() => ProfileUpdatePayload, { description: 'A patient sets the display name other patients see, and their avatar; staff always see the real name beside it. Patients only.' })
  profileUpdate(@Arg('input', () => ProfileUpdateInput, { description: 'The profile.' }) input: ProfileUpdateInput, @Ctx() context: Context) {
    return mutationPayload(ProfileUpdatePayload, 'patient', () => context.services.directory.updateProfile(input));
  }
}
