import { Arg, Args, Ctx, FieldResolver, ID, Info, Query, Resolver, Root } from 'type-graphql';
import type { GraphQLResolveInfo } from 'graphql';
import { recordMessagesRead } from '../audit/audit-recorder';
import type { Context } from '../../graphql/context';
import { connectionOf } from '../../common/graphql-types';
import { BidirectionalPageArgs, ForwardPageArgs, pageRequest } from '../../common/pagination';
import { MessageType } from '../messages/message.graphql';
import type { Message } from '../messages/message.entity';
import { ChannelType, MessageConnection } from './channel.types';
import { selectsOnlyId } from '../../graphql/lookahead';

@Resolver(() => MessageType)
export class MessageChannelFieldResolver {
  @Query(() => MessageConnection, {
    description:
      'Full-text search over the messages of the channels the caller takes part in (or one of them), newest first. Web-search syntax: words, "a phrase", -exclude, or. Internal notes for staff only; deleted messages never. Staff and patients.',
  })
  async messageSearch(
    @Arg('query', () => String, { description: 'What to look for (1 to 200 characters).' }) query: string,
    @Arg('channelId', () => ID, { nullable: true, description: 'Only this channel.' }) channelId: string | null,
    @Args(() => ForwardPageArgs) page: ForwardPageArgs,
    @Ctx() context: Context,
    @Info() info: GraphQLResolveInfo,
  ) {
    const found = await context.services.messages.search(query, channelId, pageRequest(page).limit, page.after ?? undefined);
    await recordMessagesRead(context, info, 'Query.messageSearch', found.edges.map((edge) => edge.node.channelId));
    return found;
  }

  @Query(() => MessageConnection, {
    description:
      "Messages in the patient's chart: one patient's messages across the channels about them that the caller may see (care and service teams, staff channels, the conversations they are in or may find), thread replies included, as are internal notes (as addressed), newest first; deleted messages left out. Each channel read is on the audit log. Staff.",
  })
  async patientMessages(
    @Arg('patientId', () => ID, { description: 'The patient.' }) patientId: string,
    @Args(() => ForwardPageArgs) page: ForwardPageArgs,
    @Ctx() context: Context,
    @Info() info: GraphQLResolveInfo,
  ) {
    const found = await context.services.messages.patientHistory(patientId, pageRequest(page).limit, page.after);
    await recordMessagesRead(context, info, 'Query.patientMessages', found.edges.map((edge) => edge.node.channelId));
    return found;
  }

  @FieldResolver(() => ChannelType, { description: 'The channel the message is in.' })
  channel(@Root() message: Message, @Ctx() { loaders }: Context, @Info() info: GraphQLResolveInfo) {
    // Whoever sees the message sees its channel: its id alone needs no read.
    if (selectsOnlyId(info)) return { id: message.channelId };
    return loaders.channel.load(message.channelId);
  }

  @FieldResolver(() => MessageConnection, {
    description: 'The replies in its thread, in order (`first`/`after` forward, `last`/`before` back); internal replies for staff only. Members, and those who answer a conversation a patient started; empty otherwise.',
  })
  async replies(@Root() message: Message, @Args(() => BidirectionalPageArgs) page: BidirectionalPageArgs, @Ctx() context: Context, @Info() info: GraphQLResolveInfo) {
    const request = pageRequest(page);
    const found = await context.services.channels.findOpenable(message.channelId);
    if (!found || message.parentMessageId) return connectionOf([], () => '');
    const read = await context.services.messages.page(found.channel, request, message);
    await recordMessagesRead(context, info, 'Message.replies', [message.channelId]);
    return read;
  }
}
