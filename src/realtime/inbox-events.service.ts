import type { RequestScope } from '../graphql/context';
import { apiError, ApiErrorCode, unauthenticated } from '../errors';
import { requirePerson, type PersonActor } from '../auth/actor';
import { ChannelEventType } from './channel-event.entity';
import { actorKey, compareKeys, endOfPosition, loadEvents, subjectKey, viewerOf, type EventKey, type LoadedEvent } from './event-batch';
import { liveReader } from './live-reader';
import { mapStream } from './iterators';
import { eventPolicy, type Viewer } from '../policy/events';
import { memberColumn } from '../policy/channels';
import { assertStreamCaller, cursorExpired, prepareBatch } from './channel-events.service';
import type { Config } from '../config';
import type { CursorCodec } from '../common/cursor';
import type { LiveHub } from './live-hub';

export enum InboxEventType {
  MESSAGE_SENT = 'MESSAGE_SENT',
  CHANNEL_ADDED = 'CHANNEL_ADDED',
  CHANNEL_REMOVED = 'CHANNEL_REMOVED',
  READ_STATE_CHANGED = 'READ_STATE_CHANGED',
  CHANNEL_ARCHIVED = 'CHANNEL_ARCHIVED',
  CHANNEL_UNARCHIVED = 'CHANNEL_UNARCHIVED',
  CHANNEL_UPDATED = 'CHANNEL_UPDATED',
  CHANNEL_MUTED = 'CHANNEL_MUTED',
  CHANNEL_UNMUTED = 'CHANNEL_UNMUTED',
  ESCALATED = 'ESCALATED',
}

export interface InboxItem {
  type: InboxEventType;
  event: LoadedEvent;
  /** Whether the caller still takes part in the channel (false once removed from it). */
  member: boolean;
}

/** What InboxEventService works with besides the request. */
export interface InboxEventServiceDeps {
  cursors: CursorCodec;
  live: LiveHub;
  config: Config;
}

export class InboxEventService {
  constructor(private readonly scope: RequestScope, private readonly deps: InboxEventServiceDeps) {}

  private person(): PersonActor {
    // The guard wraps `resolve`, not `subscribe`: the role rule is enforced here as well.
    return requirePerson(this.scope.actor);
  }

  /**
   * One stream per person of what happens in all their channels: new messages (never staff-only
   * ones for patients), and being added to or removed from a channel, judged by membership at
   * the time of each event. With `after` it replays what came since, then continues live.
   */
  async subscribe(after?: string | null): Promise<AsyncIterableIterator<InboxItem>> {
    const { scope } = this;
    const actor = this.person();
    const { organisationId } = actor;
    const me = actorKey(actor);
    const [counter] = await scope.em.execute<Array<{ last_position: string; pruned_through: string }>>(
      'select last_position, pruned_through from event_position where organisation_id = ?',
      [organisationId],
    );
    const lastPosition = Number(counter?.last_position ?? 0);
    let start = endOfPosition(lastPosition);
    if (after != null) {
      const decoded = this.deps.cursors.decodeInbox(after);
      if (!decoded || decoded.personKey !== me || decoded.position > lastPosition) {
        throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid for this inbox; refetch and subscribe again.');
      }
      // Positions start at 1; everything at or below pruned_through may be gone.
      if (decoded.position <= Number(counter?.pruned_through ?? 0)) throw cursorExpired();
      start = { position: decoded.position, channelId: decoded.channelId, seq: decoded.seq };
    }

    // Rows loaded to set the stream up are not kept for its lifetime (memory per open subscriber).
    scope.reset();
    // The stream's callbacks hold the scope and these, not this service.
    const { live } = this.deps;
    const revalidateMs = this.deps.config.live.revalidateMs;
    const feed = await live.acquireFeed(organisationId);
    // Registered before the first read, so every batch the feed reads from now on says whether this person was in it.
    feed.addInboxPerson(me);
    // Taken again at each check of the caller: their role groups decide which notes they are told of.
    let viewer = viewerOf(actor);
    const visible = eventPolicy.sql.visibleTo(actor, 'e');
    const { column, id: personId } = memberColumn(actor);
    const reader = liveReader<EventKey>({
      feed,
      start,
      deliveredLive: (event) => live.deliveredLive(event),
      fromDatabase: (cursor, limit) =>
        loadEvents(
          scope.db,
          organisationId,
          `e.organisation_id = ? and (e.position, e.channel_id, e.seq) > (?, ?::uuid, ?)
              and (e.type in ('MESSAGE_SENT', 'CHANNEL_UPDATED', 'CHANNEL_CLOSED') or e.subject_${column} = ?)${visible.sql}
              and exists (select 1 from channel_member m
                           where m.organisation_id = e.organisation_id and m.channel_id = e.channel_id and m.${column} = ?
                             and m.joined_seq <= e.seq and (m.left_seq is null or e.seq <= m.left_seq))
            order by e.position, e.channel_id, e.seq
            limit ?`,
          [organisationId, cursor.position, cursor.channelId, cursor.seq, personId, ...visible.params, personId, limit],
        ),
      fromFeed: (cursor, covered) => {
        const taken = feed.eventsAfter(covered);
        if (!taken) return undefined;
        const events = taken.events.filter((event) => compareKeys(event.key, cursor) > 0);
        // A batch the feed read before this inbox opened does not say whether this person was in it.
        const unknown = events.findIndex((event) => !event.audienceFor?.has(me));
        if (unknown === -1) return { events, head: taken.head };
        if (unknown === 0) return undefined;
        return { events: events.slice(0, unknown), head: events[unknown - 1].key };
      },
      advance: (_cursor, event) => event.key,
      decide: (event) => {
        if (event.audience && !event.audience.has(me)) return 'skip';
        return itemType(event, viewer) ? 'deliver' : 'skip';
      },
      authorize: async () => {
        await assertStreamCaller(scope);
        viewer = viewerOf(requirePerson(scope.actor));
      },
      prepare: (events) => prepareBatch(scope, events),
      endError: () => unauthenticated(),
      revalidateMs,
      connectionSignal: scope.connectionSignal,
      release: () => {
        feed.removeInboxPerson(me);
        live.releaseFeed(organisationId);
      },
    });
    return mapStream(reader, (event) => {
      const type = itemType(event, viewer)!;
      return { type, event, member: type !== InboxEventType.CHANNEL_REMOVED };
    });
  }

  cursorOf(item: InboxItem): string {
    return this.deps.cursors.encodeInbox({ personKey: actorKey(this.person()), ...item.event.key });
  }
}

/** What an event is in a person's inbox, or undefined when it is not for the inbox. */
function itemType(event: LoadedEvent, viewer: Viewer): InboxEventType | undefined {
  const { record } = event;
  if (!eventPolicy.canSee(viewer, record)) return undefined;
  if (record.type === ChannelEventType.MESSAGE_SENT) return InboxEventType.MESSAGE_SENT;
  if (record.type === ChannelEventType.CHANNEL_UPDATED || record.type === ChannelEventType.CHANNEL_CLOSED) return InboxEventType.CHANNEL_UPDATED;
  if (record.type === ChannelEventType.ESCALATED) return InboxEventType.ESCALATED;
  if (subjectKey(record) !== viewer.key) return undefined;
  if (record.type === ChannelEventType.MEMBER_JOINED) return InboxEventType.CHANNEL_ADDED;
  if (record.type === ChannelEventType.MEMBER_LEFT) return InboxEventType.CHANNEL_REMOVED;
  if (record.type === ChannelEventType.READ_MARKED) return InboxEventType.READ_STATE_CHANGED;
  if (record.type === ChannelEventType.CHANNEL_ARCHIVED) return InboxEventType.CHANNEL_ARCHIVED;
  if (record.type === ChannelEventType.CHANNEL_UNARCHIVED) return InboxEventType.CHANNEL_UNARCHIVED;
  if (record.type === ChannelEventType.CHANNEL_MUTED) return InboxEventType.CHANNEL_MUTED;
  if (record.type === ChannelEventType.CHANNEL_UNMUTED) return InboxEventType.CHANNEL_UNMUTED;
  return undefined;
}
