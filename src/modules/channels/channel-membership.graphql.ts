import { Arg, Ctx, Field, FieldResolver, ID, InputType, Mutation, ObjectType, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayload } from '../../graphql/payload';
import { PatientType, PersonInterface, TeamMemberType } from '../directory/directory.types';
import { Channel, ChannelMember } from './channel.entity';
import { ChannelMemberType, ChannelMembershipType, ChannelType } from './channel.types';

@InputType({ description: 'Joins an active patient channel.' })
export class ChannelJoinInput {
  @Field(() => ID, { description: 'The channel.' })
  channelId!: string;
}

@ObjectType({ description: 'Result of channelJoin.' })
export class ChannelJoinPayload extends MutationPayload {
  @Field(() => ChannelType, { nullable: true, description: 'The channel joined.' })
  channel?: Channel | null;
}

@InputType({ description: 'Archives or unarchives a channel for the caller.' })
export class ChannelArchiveInput {
  @Field(() => ID, { description: 'The channel.' })
  channelId!: string;
}

@ObjectType({ description: 'Result of channelArchive or channelUnarchive.' })
export class ChannelArchivePayload extends MutationPayload {
  @Field(() => ChannelType, { nullable: true, description: 'The channel, with the caller’s membership.' })
  channel?: Channel | null;
}

@InputType({ description: "Mutes a channel's notifications for the caller." })
export class ChannelMuteInput {
  @Field(() => ID, { description: 'The channel.' })
  channelId!: string;

  @Field(() => Date, { nullable: true, description: 'When the mute ends (in the future); absent: until unmuted.' })
  until?: Date | null;
}

@ObjectType({ description: 'Result of channelMute or channelUnmute.' })
export class ChannelMutePayload extends MutationPayload {
  @Field(() => ChannelType, { nullable: true, description: 'The channel, with the caller’s membership.' })
  channel?: Channel | null;
}

@InputType({ description: 'Marks a channel read up to a message.' })
export class ChannelMarkReadInput {
  @Field(() => ID, { description: 'The channel.' })
  channelId!: string;

  @Field(() => ID, { description: 'The newest message read; the position never moves back.' })
  messageId!: string;
}

@ObjectType({ description: 'Result of channelMarkRead.' })
export class ChannelMarkReadPayload extends MutationPayload {
  @Field(() => ChannelType, { nullable: true, description: 'The channel, with its new unread count.' })
  channel?: Channel | null;
}

@InputType({ description: 'Leaves a channel.' })
export class ChannelLeaveInput {
  @Field(() => ID, { description: 'The channel.' })
  channelId!: string;
}

@ObjectType({ description: 'Result of channelLeave.' })
export class ChannelLeavePayload extends MutationPayload {
  @Field(() => ChannelType, { nullable: true, description: 'The channel left.' })
  channel?: Channel | null;
}

@InputType({ description: 'Removes someone from a channel.' })
export class ChannelMemberRemoveInput {
  @Field(() => ID, { description: 'The channel.' })
  channelId!: string;

  @Field(() => ID, { description: 'The membership to end (a `ChannelMember` id).' })
  memberId!: string;
}

@ObjectType({ description: 'Result of channelMemberRemove.' })
export class ChannelMemberRemovePayload extends MutationPayload {
  @Field(() => ChannelType, { nullable: true, description: 'The channel.' })
  channel?: Channel | null;
}

@Resolver(() => ChannelMemberType)
export class ChannelMemberFieldResolver {
  @FieldResolver(() => PersonInterface, { nullable: true, description: 'The member as a Person (a team member or a patient): one fragment for either.' })
  person(@Root() member: ChannelMember, @Ctx() { loaders }: Context) {
    return member.teamMemberId ? loaders.teamMember.load(member.teamMemberId) : member.patientId ? loaders.patient.load(member.patientId) : null;
  }

  @FieldResolver(() => TeamMemberType, { nullable: true, description: 'The team member, when the member is staff.' })
  teamMember(@Root() member: ChannelMember, @Ctx() { loaders }: Context) {
    return member.teamMemberId ? loaders.teamMember.load(member.teamMemberId) : null;
  }

  @FieldResolver(() => PatientType, { nullable: true, description: 'The patient, when the member is a patient.' })
  patient(@Root() member: ChannelMember, @Ctx() { loaders }: Context) {
    return member.patientId ? loaders.patient.load(member.patientId) : null;
  }

  @FieldResolver(() => PatientType, { nullable: true, description: "When the member is a guardian: the dependant (the channel's patient) they read and write for." })
  guardianOf(@Root() member: ChannelMember, @Ctx() { loaders }: Context) {
    return member.guardianOfPatientId ? loaders.patient.load(member.guardianOfPatientId) : null;
  }
}

@Resolver(() => ChannelMembershipType)
export class ChannelMembershipFieldResolver {
  @FieldResolver(() => Boolean, { description: 'Whether the caller archived the channel for themself.' })
  archived(@Root() member: ChannelMember): boolean {
    return member.archivedAt != null;
  }

  @FieldResolver(() => Boolean, { description: "Whether the caller muted the channel's notifications (now)." })
  muted(@Root() member: ChannelMember): boolean {
    return member.mutedAt != null && (member.mutedUntil == null || member.mutedUntil.getTime() > Date.now());
  }
}

@Resolver()
export class ChannelMembershipResolver {
  @Mutation(() => ChannelJoinPayload, { description: 'Joins an active patient channel. Staff only.' })
  channelJoin(@Arg('input', () => ChannelJoinInput, { description: 'The channel to join.' }) input: ChannelJoinInput, @Ctx() context: Context) {
    return mutationPayload(ChannelJoinPayload, 'channel', () => context.services.channels.join(input));
  }

  @Mutation(() => ChannelMarkReadPayload, {
    description:
      "Marks a channel read up to a message (never backwards). The caller's other connections are told through inboxEvents (READ_STATE_CHANGED). Staff and patients who are members.",
  })
  channelMarkRead(@Arg('input', () => ChannelMarkReadInput, { description: 'The channel and the newest message read.' }) input: ChannelMarkReadInput, @Ctx() context: Context) {
    return mutationPayload(ChannelMarkReadPayload, 'channel', () => context.services.readState.markRead(input));
  }

  @Mutation(() => ChannelArchivePayload, {
    description:
      'Archives a channel for the caller only: it is listed with `channels(filter: { archived: true })`, leaves the badge count and pauses the caller’s notifications. Staff and patients who are members.',
  })
  channelArchive(@Arg('input', () => ChannelArchiveInput, { description: 'The channel.' }) input: ChannelArchiveInput, @Ctx() context: Context) {
    return mutationPayload(ChannelArchivePayload, 'channel', () => context.services.channelMemberships.setArchived(input, true));
  }

  @Mutation(() => ChannelArchivePayload, { description: 'Brings a channel the caller archived back to their active list. Staff and patients who are members.' })
  channelUnarchive(@Arg('input', () => ChannelArchiveInput, { description: 'The channel.' }) input: ChannelArchiveInput, @Ctx() context: Context) {
    return mutationPayload(ChannelArchivePayload, 'channel', () => context.services.channelMemberships.setArchived(input, false));
  }

  @Mutation(() => ChannelLeavePayload, {
    description:
      'The caller leaves a channel; their live streams of it end. Not the last team member of a patient channel (LAST_TEAM_MEMBER); not a patient from their care-team, service-team or conversation channel (PATIENT_CANNOT_LEAVE). Staff and patients who are members.',
  })
  channelLeave(@Arg('input', () => ChannelLeaveInput, { description: 'The channel to leave.' }) input: ChannelLeaveInput, @Ctx() context: Context) {
    return mutationPayload(ChannelLeavePayload, 'channel', () => context.services.channelMemberships.leave(input));
  }

  @Mutation(() => ChannelMemberRemovePayload, {
    description:
      'Removes someone from a channel the caller is a member of; their live streams of it end at once. Needs MESSAGING_MANAGEMENT. Keeps the patient of a care-team, service-team or conversation channel (PATIENT_CANNOT_LEAVE) and the last team member of a patient channel (LAST_TEAM_MEMBER). Staff only.',
  })
  channelMemberRemove(@Arg('input', () => ChannelMemberRemoveInput, { description: 'The channel and the membership to end.' }) input: ChannelMemberRemoveInput, @Ctx() context: Context) {
    return mutationPayload(ChannelMemberRemovePayload, 'channel', () => context.services.channelMemberships.removeMember(input));
  }

  @Mutation(() => ChannelMutePayload, {
    description: "Mutes the channel's notifications for the caller (until a time, or until unmuted); it stays in their list and badge. Staff and patients who are members.",
  })
  channelMute(@Arg('input', () => ChannelMuteInput, { description: 'The channel and when the mute ends.' }) input: ChannelMuteInput, @Ctx() context: Context) {
    return mutationPayload(ChannelMutePayload, 'channel', () => context.services.channelMemberships.setMuted(input, true));
  }

  @Mutation(() => ChannelMutePayload, { description: "Turns the caller's notifications of a channel back on. Staff and patients who are members." })
  channelUnmute(@Arg('input', () => ChannelArchiveInput, { description: 'The channel.' }) input: ChannelArchiveInput, @Ctx() context: Context) {
    return mutationPayload(ChannelMutePayload, 'channel', () => context.services.channelMemberships.setMuted(input, false));
  }
}
