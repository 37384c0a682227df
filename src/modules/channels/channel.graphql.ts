import { Arg, Args, Ctx, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, Root, registerEnumType } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload, connectionOf, connectionType } from '../../common/graphql-types';
import { BidirectionalPageArgs, ForwardPageArgs, pageRequest } from '../../common/pagination';
import { mutationPayload } from '../../graphql/payload';
import { PatientType, TeamMemberType } from '../directory/directory.graphql';
import { MessageType } from '../messages/message.graphql';
import { Channel, ChannelKind, ChannelMember, ChannelStatus } from './channel.entity';
import type { Message } from '../messages/message.entity';
import type { Patient } from '../directory/patient.entity';
import { timeIdCursor } from '../../common/cursor';
import { ApiErrorCode, apiError } from '../../errors';
import { patientChannelCursor } from './channel.service';

registerEnumType(ChannelKind, {
  name: 'ChannelKind',
  description: 'What a channel is for and who can be in it.',
  valuesConfig: {
    CARE_TEAM: { description: "One patient and the team members involved in their care. The patient cannot leave." },
    SERVICE_TEAM: { description: 'One patient and operations or support staff. The patient cannot leave.' },
    STAFF: { description: 'Team members only, about one patient. Never visible to patients.' },
    GROUP: { description: 'Several patients and team members (group programmes). Managed with MESSAGING_MANAGEMENT.' },
    DIRECT: { description: 'Team members only, not about a patient.' },
    CONVERSATION: { description: 'A titled conversation with one patient that can be closed.' },
  },
});

registerEnumType(ChannelStatus, {
  name: 'ChannelStatus',
  description: 'Whether a channel accepts new messages.',
  valuesConfig: {
    ACTIVE: { description: 'Open for messages.' },
    CLOSED: { description: 'Closed: patients can no longer reply.' },
  },
});

@ObjectType('ChannelMember', { description: 'A person in a channel: a team member or a patient.' })
export class ChannelMemberType {
  @Field(() => ID, { description: 'Opaque id of the membership.' })
  id!: string;

  @Field(() => Date, { description: 'When they joined.' })
  joinedAt!: Date;
}

@ObjectType('ChannelMembership', { description: "The caller's own membership of a channel." })
export class ChannelMembershipType {
  @Field(() => Date, { description: 'When the caller joined.' })
  joinedAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the caller last marked the channel read; null if never.' })
  lastReadAt?: Date | null;

  @Field(() => Date, { nullable: true, description: 'When a mute ends; null while not muted or muted until unmuted.' })
  mutedUntil?: Date | null;
}

@ObjectType('Channel', { description: 'A place where people exchange messages.' })
export class ChannelType {
  @Field(() => ID, { description: 'Opaque id.' })
  id!: string;

  @Field(() => ChannelKind, { description: 'What kind of channel this is.' })
  kind!: ChannelKind;

  @Field(() => String, { nullable: true, description: 'Title (groups and conversations).' })
  title?: string | null;

  @Field(() => ChannelStatus, { description: 'Whether it accepts new messages.' })
  status!: ChannelStatus;

  @Field(() => Date, { description: 'When it was activated or created.' })
  createdAt!: Date;

  @Field(() => Date, { description: 'When something last happened in it; `channels` is sorted by this.' })
  lastActivityAt!: Date;

  @Field(() => Boolean, { description: 'Conversations: whether the patient may reply (CONVERSATION only; true for other kinds).' })
  patientCanReply!: boolean;

  @Field(() => Date, { nullable: true, description: 'Conversations: when it was closed; null while open.' })
  closedAt?: Date | null;
}

export const ChannelConnection = connectionType('Channel', ChannelType, 'channel');
export const ChannelMemberConnection = connectionType('ChannelMember', ChannelMemberType, 'channel member');
export const MessageConnection = connectionType('Message', MessageType, 'message');

@InputType({ description: 'Narrows the channel list.' })
export class ChannelFilterInput {
  @Field(() => ChannelKind, { nullable: true, description: 'Only channels of this kind.' })
  kind?: ChannelKind | null;

  @Field(() => ID, { nullable: true, description: 'Only channels about this patient.' })
  patientId?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'true: only the channels the caller archived; false or absent: only the others.' })
  archived?: boolean | null;
}

@InputType({ description: "Activates one of a patient's channels." })
export class ChannelActivateInput {
  @Field(() => ID, { description: 'The patient.' })
  patientId!: string;

  @Field(() => ChannelKind, { description: 'CARE_TEAM, SERVICE_TEAM or STAFF.' })
  kind!: ChannelKind;
}

@ObjectType({ description: 'Result of channelActivate.' })
export class ChannelActivatePayload extends MutationPayload {
  @Field(() => ChannelType, { nullable: true, description: 'The activated (or already active) channel.' })
  channel?: Channel | null;
}

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

@Resolver(() => ChannelType)
export class ChannelResolver {
  @Query(() => ChannelConnection, { description: 'Channels the caller is a member of, most recent activity first. Staff and patients.' })
  channels(
    @Args(() => ForwardPageArgs) page: ForwardPageArgs,
    @Arg('filter', () => ChannelFilterInput, { nullable: true, description: 'Narrow the list by kind or patient.' }) filter: ChannelFilterInput | null,
    @Ctx() context: Context,
  ) {
    const request = pageRequest(page);
    return context.services.channels.listMine(filter ?? {}, request.limit, page.after ?? undefined);
  }

  @Query(() => ChannelType, { nullable: true, description: 'A channel by id; null when it does not exist or the caller may not see it. Staff and patients.' })
  async channel(@Arg('id', () => ID, { description: 'The channel id.' }) id: string, @Ctx() context: Context) {
    return (await context.services.channels.findVisible(id))?.channel ?? null;
  }

  @Mutation(() => ChannelActivatePayload, {
    description: "Activates a patient's CARE_TEAM, SERVICE_TEAM or STAFF channel; the caller joins. Idempotent. Staff only.",
  })
  channelActivate(@Arg('input', () => ChannelActivateInput, { description: 'Which patient and channel kind.' }) input: ChannelActivateInput, @Ctx() context: Context) {
    return mutationPayload(ChannelActivatePayload, 'channel', () => context.services.channels.activate(input));
  }

  @Mutation(() => ChannelJoinPayload, { description: 'Joins an active patient channel. Staff only.' })
  channelJoin(@Arg('input', () => ChannelJoinInput, { description: 'The channel to join.' }) input: ChannelJoinInput, @Ctx() context: Context) {
    return mutationPayload(ChannelJoinPayload, 'channel', () => context.services.channels.join(input));
  }

  @Query(() => Int, { description: "Unread messages across the caller's channels, archived channels excluded (each channel counted up to 1,000): the badge. Staff and patients." })
  badgeCount(@Ctx() context: Context) {
    return context.services.readState.badgeCount();
  }

  @Mutation(() => ChannelMarkReadPayload, {
    description:
      "Marks a channel read up to a message (never backwards). The caller's other connections are told through inboxEvents (READ_STATE_CHANGED). Staff and patients who are members.",
  })
  channelMarkRead(@Arg('input', () => ChannelMarkReadInput, { description: 'The channel and the newest message read.' }) input: ChannelMarkReadInput, @Ctx() context: Context) {
    return mutationPayload(ChannelMarkReadPayload, 'channel', () => context.services.readState.markRead(input));
  }

  @FieldResolver(() => MessageType, { nullable: true, description: 'The newest top-level message the caller can see (batched for a whole list). Members only; null otherwise.' })
  async lastMessage(@Root() channel: Channel, @Ctx() context: Context) {
    if (!(await context.services.channels.findParticipating(channel.id))) return null;
    return (await context.loaders.lastMessage.load(channel.id)) ?? null;
  }

  @FieldResolver(() => Int, { description: 'Messages by others after the caller’s read position, counted up to 1,000 (show 999+). Members only; 0 otherwise.' })
  unreadCount(@Root() channel: Channel, @Ctx() { loaders }: Context) {
    return loaders.unreadCount.load(channel.id);
  }

  @Mutation(() => ChannelArchivePayload, {
    description:
      'Archives a channel for the caller only: it is listed with `channels(filter: { archived: true })`, leaves the badge count and pauses the caller’s notifications. Staff and patients who are members.',
  })
  channelArchive(@Arg('input', () => ChannelArchiveInput, { description: 'The channel.' }) input: ChannelArchiveInput, @Ctx() context: Context) {
    return mutationPayload(ChannelArchivePayload, 'channel', () => context.services.channels.setArchived(input, true));
  }

  @Mutation(() => ChannelArchivePayload, { description: 'Brings a channel the caller archived back to their active list. Staff and patients who are members.' })
  channelUnarchive(@Arg('input', () => ChannelArchiveInput, { description: 'The channel.' }) input: ChannelArchiveInput, @Ctx() context: Context) {
    return mutationPayload(ChannelArchivePayload, 'channel', () => context.services.channels.setArchived(input, false));
  }

  @Mutation(() => ChannelLeavePayload, {
    description:
      'The caller leaves a channel; their live streams of it end. Not the last team member of a patient channel (LAST_TEAM_MEMBER); not a patient from their care-team, service-team or conversation channel (PATIENT_CANNOT_LEAVE). Staff and patients who are members.',
  })
  channelLeave(@Arg('input', () => ChannelLeaveInput, { description: 'The channel to leave.' }) input: ChannelLeaveInput, @Ctx() context: Context) {
    return mutationPayload(ChannelLeavePayload, 'channel', () => context.services.channels.leave(input));
  }

  @Mutation(() => ChannelMemberRemovePayload, {
    description:
      'Removes someone from a channel the caller is a member of; their live streams of it end at once. Needs MESSAGING_MANAGEMENT. Keeps the patient of a care-team, service-team or conversation channel (PATIENT_CANNOT_LEAVE) and the last team member of a patient channel (LAST_TEAM_MEMBER). Staff only.',
  })
  channelMemberRemove(@Arg('input', () => ChannelMemberRemoveInput, { description: 'The channel and the membership to end.' }) input: ChannelMemberRemoveInput, @Ctx() context: Context) {
    return mutationPayload(ChannelMemberRemovePayload, 'channel', () => context.services.channels.removeMember(input));
  }

  @Mutation(() => ChannelMutePayload, {
    description: "Mutes the channel's notifications for the caller (until a time, or until unmuted); it stays in their list and badge. Staff and patients who are members.",
  })
  channelMute(@Arg('input', () => ChannelMuteInput, { description: 'The channel and when the mute ends.' }) input: ChannelMuteInput, @Ctx() context: Context) {
    return mutationPayload(ChannelMutePayload, 'channel', () => context.services.channels.setMuted(input, true));
  }

  @Mutation(() => ChannelMutePayload, { description: "Turns the caller's notifications of a channel back on. Staff and patients who are members." })
  channelUnmute(@Arg('input', () => ChannelArchiveInput, { description: 'The channel.' }) input: ChannelArchiveInput, @Ctx() context: Context) {
    return mutationPayload(ChannelMutePayload, 'channel', () => context.services.channels.setMuted(input, false));
  }

  @Query(() => ChannelConnection, {
    description:
      'Patient channels left without an active team member (their team member was archived and the patient has no allocation clinician, or nobody responds to a patient-started conversation), oldest first. Join one with channelJoin to staff it. Staff with MESSAGING_ADMIN.',
  })
  unstaffedChannels(@Args(() => ForwardPageArgs) page: ForwardPageArgs, @Ctx() context: Context) {
    return context.services.channels.listUnstaffed(pageRequest(page).limit, page.after ?? undefined);
  }

  @FieldResolver(() => Date, { nullable: true, description: 'Since when the channel has had no active team member; null while staffed. Staff only (null for patients).' })
  unstaffedSince(@Root() channel: Channel, @Ctx() { actor }: Context): Date | null {
    return actor?.kind === 'staff' ? (channel.unstaffedSince ?? null) : null;
  }

  @FieldResolver(() => PatientType, { nullable: true, description: 'The patient the channel is about (patient channels only).' })
  patient(@Root() channel: Channel, @Ctx() { loaders }: Context) {
    return channel.patientId ? loaders.patient.load(channel.patientId) : null;
  }

  @FieldResolver(() => ChannelMembershipType, { nullable: true, description: "The caller's membership; null when they have not joined." })
  myMembership(@Root() channel: Channel, @Ctx() { loaders }: Context) {
    return loaders.myMembership.load(channel.id);
  }

  @FieldResolver(() => ChannelMemberConnection, { description: 'The people in the channel, in joining order. Members only; empty otherwise.' })
  async members(@Root() channel: Channel, @Args(() => ForwardPageArgs) page: ForwardPageArgs, @Ctx() context: Context) {
    const request = pageRequest(page);
    if (!(await context.services.channels.findParticipating(channel.id))) return connectionOf([], () => '');
    return context.services.channels.members(channel, request.limit, page.after ?? undefined);
  }

  @FieldResolver(() => MessageConnection, {
    description: 'Messages in sequence order: `first`/`after` pages forward from the oldest, `last`/`before` back from the newest. Members only; empty otherwise.',
  })
  async messages(@Root() channel: Channel, @Args(() => BidirectionalPageArgs) page: BidirectionalPageArgs, @Ctx() context: Context) {
    const request = pageRequest(page);
    if (!(await context.services.channels.findParticipating(channel.id))) return connectionOf([], () => '');
    return context.services.messages.page(channel, request);
  }
}


@Resolver(() => MessageType)
export class MessageChannelFieldResolver {
  @Query(() => MessageConnection, {
    description:
      'Full-text search over the messages of the channels the caller takes part in (or one of them), newest first. Web-search syntax: words, "a phrase", -exclude, or. Internal notes for staff only; deleted messages never. Staff and patients.',
  })
  messageSearch(
    @Arg('query', () => String, { description: 'What to look for (1 to 200 characters).' }) query: string,
    @Arg('channelId', () => ID, { nullable: true, description: 'Only this channel.' }) channelId: string | null,
    @Args(() => ForwardPageArgs) page: ForwardPageArgs,
    @Ctx() context: Context,
  ) {
    return context.services.messages.search(query, channelId, pageRequest(page).limit, page.after ?? undefined);
  }

  @FieldResolver(() => ChannelType, { description: 'The channel the message is in.' })
  channel(@Root() message: Message, @Ctx() { loaders }: Context) {
    return loaders.channel.load(message.channelId);
  }

  @FieldResolver(() => MessageConnection, {
    description: 'The replies in its thread, in order (`first`/`after` forward, `last`/`before` back); internal replies for staff only. Members only; empty otherwise.',
  })
  async replies(@Root() message: Message, @Args(() => BidirectionalPageArgs) page: BidirectionalPageArgs, @Ctx() context: Context) {
    const request = pageRequest(page);
    const found = await context.services.channels.findParticipating(message.channelId);
    if (!found || message.parentMessageId) return connectionOf([], () => '');
    return context.services.messages.page(found.channel, request, message);
  }
}

@Resolver(() => PatientType)
export class PatientChannelsFieldResolver {
  @FieldResolver(() => ChannelConnection, {
    description:
      "The patient's channels in activation order, for the buttons of their profile: staff see every kind but conversations they are not in (messaging admins see those too), with myMembership null where they have not joined (Activate, Join or Open); a patient or guardian sees only those they take part in.",
  })
  async channels(@Root() patient: Patient, @Args(() => ForwardPageArgs) page: ForwardPageArgs, @Ctx() { loaders }: Context) {
    const { limit } = pageRequest(page);
    const after = page.after != null ? timeIdCursor.decode(page.after) : undefined;
    if (page.after != null && !after) throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid; start again from the first page.');
    const rows = await loaders.patientChannels.page({ limit, after }).load(patient.id);
    return connectionOf(rows.slice(0, limit), patientChannelCursor, { hasNextPage: rows.length > limit, hasPreviousPage: false });
  }
}
