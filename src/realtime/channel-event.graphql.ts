import { Arg, Ctx, FieldResolver, ID, ObjectType, Resolver, Root, Subscription, registerEnumType } from 'type-graphql';
import type { Context } from '../graphql/context';
import { ChannelMemberType, ChannelType } from '../modules/channels/channel.types';
import { MessageType } from '../modules/messages/message.graphql';
import { ChannelEventType } from './channel-event.entity';
import type { StreamEvent } from './channel-events.service';
import type { Message } from '../modules/messages/message.entity';

registerEnumType(ChannelEventType, {
  name: 'ChannelEventType',
  description: 'What happened in a channel.',
  valuesConfig: {
    MESSAGE_SENT: { description: 'A message was posted (a thread reply has `message.parent`); see `message`.' },
    MESSAGE_EDITED: { description: 'A message was edited; see `message` (its new body, `editedAt`).' },
    REACTION_CHANGED: { description: 'Someone reacted to `message` or took a reaction back; see `message.reactions`.' },
    MESSAGE_DELETED: { description: 'A message was deleted; `message` is its tombstone (`deletedAt`, empty body).' },
    MEMBER_JOINED: { description: 'Someone joined or was added; see `member`.' },
    MEMBER_LEFT: { description: 'Someone left or was removed; see `member`. When it is the subscriber, their stream then ends with ACCESS_REVOKED.' },
    CHANNEL_ARCHIVED: { description: 'The subscriber archived the channel for themself (another device of theirs); only they receive it.' },
    CHANNEL_UNARCHIVED: { description: 'The subscriber unarchived the channel; only they receive it.' },
    CHANNEL_MUTED: { description: 'The subscriber muted the channel (another device of theirs); only they receive it.' },
    CHANNEL_UNMUTED: { description: 'The subscriber unmuted the channel; only they receive it.' },
    CHANNEL_UPDATED: { description: 'The channel changed for everyone: a conversation renamed, reopened, or its patient replies turned on or off; see `channel`.' },
    CHANNEL_CLOSED: { description: 'A conversation was closed: patients can no longer reply; see `channel`.' },
    ESCALATED: { description: "Staff only: the patient's `message` (the oldest unanswered) has had no staff reply by its response target, and people were told (see `responsesDue`)." },
    READ_MARKED: { description: "The subscriber's own read position moved to `message` (another device of theirs); only they receive it." },
  },
});

@ObjectType('ChannelEvent', { description: 'One change in a channel, in the order the channel saw them.' })
export class ChannelEventGraphQLType {}

@Resolver(() => ChannelEventGraphQLType)
export class ChannelEventResolver {
  @Subscription(() => ChannelEventGraphQLType, {
    description:
      'Every event of a channel the caller is a member of, live. With `after` (a cursor of an event or message) it first replays what came after it, then continues live, with no gap and no duplicate; CURSOR_EXPIRED when the cursor is older than the history kept. Staff-only events are never sent to patients. The stream ends with ACCESS_REVOKED when the caller leaves or is removed. Staff and patients; NOT_FOUND for a channel the caller may not see.',
    subscribe: ({ args, context }) => (context as Context).services.channelEvents.subscribe(args.channelId, args.after),
  })
  channelEvents(
    @Root() event: StreamEvent,
    @Arg('channelId', () => ID, { description: 'The channel to follow.' }) _channelId: string,
    @Arg('after', () => String, { nullable: true, description: 'Resume after this cursor.' }) _after?: string | null,
  ): StreamEvent {
    return event;
  }

  @FieldResolver(() => String, { description: 'Opaque position; pass as `after` to resume from here.' })
  cursor(@Root() event: StreamEvent, @Ctx() { services }: Context): string {
    return services.channelEvents.cursorOf(event);
  }

  @FieldResolver(() => ChannelEventType, { description: 'What happened.' })
  type(@Root() event: StreamEvent): ChannelEventType {
    return event.record.type;
  }

  @FieldResolver(() => Date, { description: 'When it happened.' })
  createdAt(@Root() event: StreamEvent): Date {
    return event.record.createdAt;
  }

  @FieldResolver(() => ChannelType, { description: 'The channel.' })
  channel(@Root() event: StreamEvent, @Ctx() { loaders }: Context) {
    return loaders.channel.load(event.record.channelId);
  }

  @FieldResolver(() => MessageType, { nullable: true, description: 'The message concerned (message events).' })
  message(@Root() event: StreamEvent, @Ctx() context: Context) {
    return visibleMessage(context, event.record.messageId);
  }

  @FieldResolver(() => ChannelMemberType, { nullable: true, description: 'The membership concerned (member events).' })
  member(@Root() event: StreamEvent, @Ctx() { loaders }: Context) {
    return event.record.memberId ? loaders.member.load(event.record.memberId) : null;
  }
}

/**
 * An event's message, if the subscriber may see it now: an event reaching them (their own read
 * mark, say) does not show a note whose audience they have since left, nor a reaction to a group
 * message from before a patient joined.
 */
export function visibleMessage({ services }: Pick<Context, 'services'>, messageId: string | null | undefined): Promise<Message | null> {
  return messageId ? services.messages.shownById(messageId) : Promise.resolve(null);
}
