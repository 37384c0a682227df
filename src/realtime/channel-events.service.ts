import type { RequestScope } from '../graphql/context';
import { apiError, ApiErrorCode, notFound, unauthenticated } from '../errors';
import { requirePerson, type PersonActor } from '../auth/actor';
import { ChannelEventType } from './channel-event.entity';
import { loadEvents, viewerOf, type LoadedEvent } from './event-batch';
import { eventPolicy } from '../policy/events';
import { liveReader } from './live-reader';
import type { ChannelService } from '../modules/channels/channel.service';
import type { Config } from '../config';
import type { CursorCodec } from '../common/cursor';
import type { LiveHub } from './live-hub';

/** What a subscription resolves events with: the event and the rows it refers to. */
export type StreamEvent = LoadedEvent;

/** What ChannelEventService works with besides the request. */
export interface ChannelEventServiceDeps {
  cursors: CursorCodec;
  live: LiveHub;
  config: Config;
  channels: ChannelService;
}

export class ChannelEventService {
  constructor(private readonly scope: RequestScope, private readonly deps: ChannelEventServiceDeps) {}

  private person(): PersonActor {
    // The guard wraps `resolve`, not `subscribe`: the role rule is enforced here as well.
    return requirePerson(this.scope.actor);
  }

  /**
   * Opens the event stream of a channel the caller takes part in, from `after` (a cursor of an
   * earlier event or message) or from now. Staff-only events are never shown to patients; a
   * member who is removed gets their own MEMBER_LEFT and then ACCESS_REVOKED.
   */
  async subscribe(channelId: string, after?: string | null): Promise<AsyncIterableIterator<StreamEvent>> {
    const { scope } = this;
    const actor = this.person();
    const found = await this.deps.channels.findParticipating(channelId);
    if (!found) throw notFound('The channel');
    const { organisationId } = found.channel;
    let afterSeq = found.channel.lastSeq;
    if (after != null) {
      const position = this.deps.cursors.decode(after);
      if (!position || position.channelId !== channelId || position.seq > found.channel.lastSeq) {
        throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid for this channel; refetch and subscribe again.');
      }
      afterSeq = position.seq;
      await this.assertRetained(organisationId, channelId, afterSeq, found.channel.lastSeq);
    }
    const membershipId = found.membership.id;
    // Set once the membership is found ended: events after its MEMBER_LEFT are not for this member.
    let lastVisibleSeq: number | undefined;
    // Rows loaded to set the stream up are not kept for its lifetime (memory per open subscriber).
    scope.reset();
    // The stream's callbacks hold the scope and these, not this service (and the services it reaches).
    const { live } = this.deps;
    const revalidateMs = this.deps.config.live.revalidateMs;
    const feed = await live.acquireFeed(organisationId);
    // Taken again at each check of the caller: their role groups decide which notes they are told of.
    let viewer = viewerOf(actor);
    return liveReader<number>({
      feed,
      start: afterSeq,
      deliveredLive: (event) => live.deliveredLive(event),
      fromDatabase: (seq, limit) =>
        loadEvents(scope.db, organisationId, 'organisation_id = ? and channel_id = ? and seq > ? order by seq limit ?', [
          organisationId,
          channelId,
          seq,
          limit,
        ]),
      fromFeed: (seq, covered) => feed.channelEventsAfter(channelId, seq, covered),
      advance: (_seq, event) => event.key.seq,
      decide: ({ record }) => {
        if (lastVisibleSeq !== undefined && record.seq > lastVisibleSeq) return 'end';
        if (record.type === ChannelEventType.MEMBER_LEFT && record.memberId === membershipId) return 'deliver-then-end';
        return eventPolicy.canSee(viewer, record) ? 'deliver' : 'skip';
      },
      authorize: async () => {
        lastVisibleSeq = await membershipEnd(scope, membershipId);
        viewer = viewerOf(requirePerson(scope.actor));
      },
      prepare: (events) => prepareBatch(scope, events),
      endError: revoked,
      revalidateMs,
      connectionSignal: scope.connectionSignal,
      release: () => live.releaseFeed(organisationId),
    });
  }

  /** A resume position whose next event was removed by retention cannot be resumed. */
  private async assertRetained(organisationId: string, channelId: string, afterSeq: number, lastSeq: number): Promise<void> {
    if (afterSeq >= lastSeq) return;
    const next = await this.scope.em.execute('select 1 from channel_event where organisation_id = ? and channel_id = ? and seq = ?', [
      organisationId,
      channelId,
      afterSeq + 1,
    ]);
    if (next.length === 0) throw cursorExpired();
  }

  cursorOf(event: StreamEvent): string {
    return this.deps.cursors.encode({ channelId: event.record.channelId, seq: event.record.seq });
  }
}

/**
 * Ends a channel's stream unless the token is current and the person active; returns the sequence
 * number of the membership's MEMBER_LEFT once it has ended (the member still gets that event).
 */
async function membershipEnd(scope: RequestScope, membershipId: string): Promise<number | undefined> {
  await assertStreamCaller(scope);
  const membership = await scope.loaders.member.load(membershipId);
  scope.release();
  if (!membership) throw revoked();
  return membership.leftSeq ?? undefined;
}

const revoked = () => apiError(ApiErrorCode.ACCESS_REVOKED, 'You are no longer a member of this channel.');

export const cursorExpired = () =>
  apiError(ApiErrorCode.CURSOR_EXPIRED, 'The cursor is older than the event history kept; refetch the current state and subscribe without `after`.');

/** Drops the rows cached for the previous batch and hands over this batch's shared rows. */
export function prepareBatch(scope: RequestScope, events: LoadedEvent[]): void {
  scope.reset();
  scope.prime([...new Set(events.map((event) => event.related))]);
}

/**
 * Ends a long-lived stream unless the token is still current and the person still active (not
 * archived); a team member's role groups and permissions are taken as they are now. Drops the
 * rows cached for the previous batch first, so they are read afresh.
 */
export async function assertStreamCaller(scope: RequestScope): Promise<void> {
  const { actor } = scope;
  if (!actor || actor.expiresAt <= Date.now()) throw unauthenticated();
  scope.reset();
  const member = actor.kind === 'staff' ? await scope.loaders.teamMember.load(actor.teamMemberId) : undefined;
  const person = actor.kind === 'patient' ? await scope.loaders.patient.load(actor.patientId) : member;
  // What the check loaded is not kept until the next one.
  scope.reset();
  if (!person || person.archivedAt) throw unauthenticated();
  if (member) scope.refreshStaff(member);
}
