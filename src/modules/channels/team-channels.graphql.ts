import { Arg, Ctx, Field, ID, InputType, Mutation, ObjectType, Resolver } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayload } from '../../graphql/payload';
import { ChannelType } from './channel.types';
import type { Channel } from './channel.entity';

@InputType({ description: 'The team members of a direct channel, besides the caller.' })
export class DirectChannelOpenInput {
  @Field(() => [ID], { description: 'At least one other team member (20 at most).' })
  teamMemberIds!: string[];
}

@ObjectType({ description: 'Result of directChannelOpen.' })
export class DirectChannelOpenPayload extends MutationPayload {
  @Field(() => ChannelType, { nullable: true, description: 'The direct channel of exactly these people (the existing one if any).' })
  channel?: Channel | null;
}

@InputType({ description: 'A new group channel.' })
export class GroupChannelCreateInput {
  @Field(() => String, { description: 'Its title, shown to every member.' })
  title!: string;

  @Field(() => [ID], { nullable: true, description: 'Team members to add besides the caller.' })
  teamMemberIds?: string[] | null;

  @Field(() => [ID], { nullable: true, description: 'Patients to add.' })
  patientIds?: string[] | null;
}

@ObjectType({ description: 'Result of groupChannelCreate.' })
export class GroupChannelCreatePayload extends MutationPayload {
  @Field(() => ChannelType, { nullable: true, description: 'The new group channel.' })
  channel?: Channel | null;
}

@InputType({ description: 'People to add to a channel.' })
export class ChannelMembersAddInput {
  @Field(() => ID, { description: 'The channel; the caller must be a member.' })
  channelId!: string;

  @Field(() => [ID], { nullable: true, description: 'Team members to add.' })
  teamMemberIds?: string[] | null;

  @Field(() => [ID], { nullable: true, description: 'Patients to add (group channels only).' })
  patientIds?: string[] | null;
}

@ObjectType({ description: 'Result of channelMembersAdd.' })
export class ChannelMembersAddPayload extends MutationPayload {
  @Field(() => ChannelType, { nullable: true, description: 'The channel.' })
  channel?: Channel | null;
}

@Resolver()
export class TeamChannelResolver {
  @Mutation(() => DirectChannelOpenPayload, {
    description: 'Opens the direct channel of the caller and the given team members; the same set of people always gets the same channel. Staff only.',
  })
  directChannelOpen(@Arg('input', () => DirectChannelOpenInput, { description: 'Who to talk to.' }) input: DirectChannelOpenInput, @Ctx() context: Context) {
    return mutationPayload(DirectChannelOpenPayload, 'channel', () => context.services.teamChannels.openDirect(input));
  }

  @Mutation(() => GroupChannelCreatePayload, {
    description: 'Creates a group channel of patients and team members; the caller joins. Staff with MESSAGING_MANAGEMENT (FORBIDDEN otherwise).',
  })
  groupChannelCreate(@Arg('input', () => GroupChannelCreateInput, { description: 'Title and participants.' }) input: GroupChannelCreateInput, @Ctx() context: Context) {
    return mutationPayload(GroupChannelCreatePayload, 'channel', () => context.services.teamChannels.createGroup(input));
  }

  @Mutation(() => ChannelMembersAddPayload, {
    description:
      'Adds people to a channel the caller is a member of. Groups: team members and patients, with MESSAGING_MANAGEMENT. Patient channels: team members. Direct channels are fixed sets (UNSUPPORTED_CHANNEL_KIND). Staff only.',
  })
  channelMembersAdd(@Arg('input', () => ChannelMembersAddInput, { description: 'The channel and the people.' }) input: ChannelMembersAddInput, @Ctx() context: Context) {
    return mutationPayload(ChannelMembersAddPayload, 'channel', () => context.services.teamChannels.addMembers(input));
  }
}
