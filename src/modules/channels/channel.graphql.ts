import { Arg, Args, Ctx, Field, FieldResolver, ID, Info, InputType, Int, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import type { GraphQLResolveInfo } from 'graphql';
import { selectedFieldArgs } from '../../graphql/lookahead';
import type { Context } from '../../graphql/context';
import { recordMessagesRead } from '../audit/audit-recorder';
import { MutationPayload, connectionOf } from '../../common/graphql-types';
import { BidirectionalPageArgs, ForwardPageArgs, pageRequest, type PageRequest } from '../../common/pagination';
import { mutationPayload } from '../../graphql/payload';
import { PatientType } from '../directory/directory.types';
import { MessageType } from '../messages/message.graphql';
import { Channel, ChannelKind } from './channel.entity';
import { channelPolicy } from '../../policy/channels';
import { ChannelConnection, ChannelFilterInput, ChannelMemberConnection, ChannelMembershipType, ChannelType, MessageConnection } from './channel.types';

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

/** The page `channel(id) { messages(…) }` asks for, to read with the channel in one statement; undefined when unsure. */
function messagesAhead(info: GraphQLResolveInfo): PageRequest | undefined {
  const args = selectedFieldArgs(info, 'messages');
  if (!args) return undefined;
  try {
    return pageRequest(args);
  } catch {
    return undefined;
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
  async channel(@Arg('id', () => ID, { description: 'The channel id.' }) id: string, @Ctx() context: Context, @Info() info: GraphQLResolveInfo) {
    return (await context.services.channels.findVisible(id, messagesAhead(info)))?.channel ?? null;
  }

  @Mutation(() => ChannelActivatePayload, {
    description: "Activates a patient's CARE_TEAM, SERVICE_TEAM or STAFF channel; the caller joins. Idempotent. Staff only.",
  })
  channelActivate(@Arg('input', () => ChannelActivateInput, { description: 'Which patient and channel kind.' }) input: ChannelActivateInput, @Ctx() context: Context) {
    return mutationPayload(ChannelActivatePayload, 'channel', () => context.services.channels.activate(input));
  }

  @Query(() => Int, { description: "Unread messages across the caller's channels, archived channels excluded (each channel counted up to 1,000): the badge. Staff and patients." })
  badgeCount(@Ctx() context: Context) {
    return context.services.readState.badgeCount();
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

  @Query(() => ChannelConnection, {
    description:
      'Patient channels left without an active team member (their team member was archived and the patient has no allocation clinician, or nobody responds to a patient-started conversation), oldest first. Join one with channelJoin to staff it. Staff with MESSAGING_ADMIN.',
  })
  unstaffedChannels(@Args(() => ForwardPageArgs) page: ForwardPageArgs, @Ctx() context: Context) {
    return context.services.channels.listUnstaffed(pageRequest(page).limit, page.after ?? undefined);
  }

  @FieldResolver(() => Date, { nullable: true, description: 'Since when the channel has had no active team member; null while staffed. Staff only (null for patients).' })
  unstaffedSince(@Root() channel: Channel, @Ctx() { actor }: Context): Date | null {
    return channelPolicy.seesStaffing(actor) ? (channel.unstaffedSince ?? null) : null;
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
    description:
      'Messages in sequence order: `first`/`after` pages forward from the oldest, `last`/`before` back from the newest. Members, and those who answer a conversation a patient started (they become members when they answer); empty otherwise.',
  })
  async messages(@Root() channel: Channel, @Args(() => BidirectionalPageArgs) page: BidirectionalPageArgs, @Ctx() context: Context, @Info() info: GraphQLResolveInfo) {
    const request = pageRequest(page);
    if (!(await context.services.channels.findOpenable(channel.id))) return connectionOf([], () => '');
    const read = await context.services.messages.page(channel, request);
    await recordMessagesRead(context, info, 'Channel.messages', [channel.id]);
    return read;
  }
}
