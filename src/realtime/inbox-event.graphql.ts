import { Arg, Ctx, FieldResolver, ID, Int, ObjectType, Resolver, Root, Subscription, registerEnumType } from 'type-graphql';
import type { Context } from '../graphql/context';
import { ChannelType } from '../modules/channels/channel.types';
import { MessageType } from '../modules/messages/message.graphql';
import { InboxEventType, type InboxItem } from './inbox-events.service';
import { visibleMessage } from './channel-event.graphql';

registerEnumType(InboxEventType, {
  name: 'InboxEventType',
  description: "What happened in the caller's inbox.",
  valuesConfig: {
    MESSAGE_SENT: { description: 'A new message in one of the caller’s channels; see `message` and `channel`.' },
    CHANNEL_ADDED: { description: 'The caller joined or was added to `channel`.' },
    CHANNEL_REMOVED: { description: 'The caller left or was removed from the channel `channelId`; `channel` is null from now on.' },
    CHANNEL_ARCHIVED: { description: 'The caller archived `channel` for themself (perhaps on another device); it no longer counts in `badgeCount`.' },
    CHANNEL_UNARCHIVED: { description: 'The caller unarchived `channel`.' },
    CHANNEL_MUTED: { description: 'The caller muted `channel` (perhaps on another device); see `channel.myMembership`.' },
    CHANNEL_UNMUTED: { description: 'The caller unmuted `channel`.' },
    ESCALATED: { description: "Staff only: a patient's message in `channel` has had no staff reply by its response target (see `responsesDue`)." },
    CHANNEL_UPDATED: { description: '`channel` changed for everyone (a conversation closed, reopened, renamed, or its patient replies switched); refetch what you show of it.' },
    READ_STATE_CHANGED: { description: 'The caller marked `channel` read (perhaps on another device); see `unreadCount` and `badgeCount`.' },
  },
});

@ObjectType('InboxEvent', { description: 'One change across all the channels the caller takes part in.' })
export class InboxEventGraphQLType {}

@Resolver(() => InboxEventGraphQLType)
export class InboxEventResolver {
  @Subscription(() => InboxEventGraphQLType, {
    description:
      'Everything the caller can see across their channels, in one stream: new messages (never staff-only ones for patients) and being added to or removed from channels, judged by membership at the time of each event. With `after` it replays what came since, then continues live, with no gap and no duplicate; CURSOR_EXPIRED when the cursor is older than the history kept. Staff and patients.',
    subscribe: ({ args, context }) => (context as Context).services.inboxEvents.subscribe(args.after),
  })
  inboxEvents(
    @Root() item: InboxItem,
    @Arg('after', () => String, { nullable: true, description: 'Resume after this cursor (from an earlier inbox event).' }) _after?: string | null,
  ): InboxItem {
    return item;
  }

  @FieldResolver(() => String, { description: 'Opaque position; pass as `after` to resume from here.' })
  cursor(@Root() item: InboxItem, @Ctx() { services }: Context): string {
    return services.inboxEvents.cursorOf(item);
  }

  @FieldResolver(() => InboxEventType, { description: 'What happened.' })
  type(@Root() item: InboxItem): InboxEventType {
    return item.type;
  }

  @FieldResolver(() => Date, { description: 'When it happened.' })
  createdAt(@Root() item: InboxItem): Date {
    return item.event.record.createdAt;
  }

  @FieldResolver(() => ID, { description: 'The channel concerned.' })
  channelId(@Root() item: InboxItem): string {
    return item.event.record.channelId;
  }

  @FieldResolver(() => ChannelType, { nullable: true, description: 'The channel concerned; null once the caller is no longer in it.' })
  async channel(@Root() item: InboxItem, @Ctx() { services }: Context) {
    return item.member ? ((await services.channels.findVisible(item.event.record.channelId))?.channel ?? null) : null;
  }

  @FieldResolver(() => Int, { nullable: true, description: "The caller's unread messages in the channel now; null once they are no longer in it." })
  unreadCount(@Root() item: InboxItem, @Ctx() { loaders }: Context) {
    return item.member ? loaders.unreadCount.load(item.event.record.channelId) : null;
  }

  @FieldResolver(() => Int, { description: "The caller's badge now: unread messages across their channels, archived ones excluded." })
  badgeCount(@Ctx() { services }: Context) {
    return services.readState.badgeCount();
  }

  @FieldResolver(() => MessageType, { nullable: true, description: 'The new message (MESSAGE_SENT), or the newest message read (READ_STATE_CHANGED).' })
  message(@Root() item: InboxItem, @Ctx() context: Context) {
    return visibleMessage(context, item.event.record.messageId);
  }
}

