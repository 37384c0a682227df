import { Arg, Ctx, Field, FieldResolver, ID, ObjectType, Resolver, Root, Subscription, registerEnumType } from 'type-graphql';
import type { Context } from '../graphql/context';
import { ChannelMemberType, ChannelType } from '../modules/channels/channel.graphql';
import { MessageType } from '../modules/messages/message.graphql';
import { ChannelMember } from '../modules/channels/channel.entity';
import { ChannelEventRecord, ChannelEventType } from './channel-event.entity';

registerEnumType(ChannelEventType, {
  name: 'ChannelEventType',
  description: 'What happened in a channel.',
  valuesConfig: {
    MESSAGE_SENT: { description: 'A message was posted; see `message`.' },
    MEMBER_JOINED: { description: 'Someone joined; see `member`.' },
  },
});

@ObjectType('ChannelEvent', { description: 'One change in a channel, in the order the channel saw them.' })
export class ChannelEventGraphQLType {
  @Field(() => ChannelEventType, { description: 'What happened.' })
  type!: ChannelEventType;

  @Field(() => Date, { description: 'When it happened.' })
  createdAt!: Date;
}

@Resolver(() => ChannelEventGraphQLType)
export class ChannelEventResolver {
  @Subscription(() => ChannelEventGraphQLType, {
    description:
      'Every event of a channel the caller is a member of, live. With `after` (a cursor of an event or message) it first replays what came after it, then continues live, with no gap and no duplicate. Staff and patients; NOT_FOUND for a channel the caller may not see.',
    subscribe: ({ args, context }) => (context as Context).services.channelEvents.subscribe(args.channelId, args.after),
  })
  channelEvents(
    @Root() event: ChannelEventRecord,
    @Arg('channelId', () => ID, { description: 'The channel to follow.' }) _channelId: string,
    @Arg('after', () => String, { nullable: true, description: 'Resume after this cursor.' }) _after?: string | null,
  ): ChannelEventRecord {
    return event;
  }

  @FieldResolver(() => String, { description: 'Opaque position; pass as `after` to resume from here.' })
  cursor(@Root() event: ChannelEventRecord, @Ctx() { services }: Context): string {
    return services.channelEvents.cursorOf(event);
  }

  @FieldResolver(() => ChannelType, { description: 'The channel.' })
  channel(@Root() event: ChannelEventRecord, @Ctx() { loaders }: Context) {
    return loaders.channel.load(event.channelId);
  }

  @FieldResolver(() => MessageType, { nullable: true, description: 'The message concerned (message events).' })
  message(@Root() event: ChannelEventRecord, @Ctx() { loaders }: Context) {
    return event.messageId ? loaders.message.load(event.messageId) : null;
  }

  @FieldResolver(() => ChannelMemberType, { nullable: true, description: 'The membership concerned (member events).' })
  member(@Root() event: ChannelEventRecord, @Ctx() { em }: Context) {
    return event.memberId ? em.findOne(ChannelMember, { organisationId: event.organisationId, id: event.memberId }) : null;
  }
}
