import type { Context } from '../graphql/context';
import { apiError, ApiErrorCode, notFound, unauthenticated } from '../errors';
import { requirePerson, type PersonActor } from '../auth/actor';
import { ChannelEventType } from './channel-event.entity';
import { loadEvents, primeLoaders, type LoadedEvent } from './event-batch';
import { liveReader } from './live-reader';

/** What a subscription resolves events with: the event and the rows it refers to. */
export type StreamEvent = LoadedEvent;

export class ChannelEventService {
  constructor(private readonly context: Context) {}

  private person(): PersonActor {
    // Shield guards `resolve`, not `subscribe`: the role rule is enforced here as well.
    return requirePerson(this.context.actor);
  }

  /**
   * Opens the event stream of a channel the caller takes part in, from `after` (a cursor of an
   * earlier event or message) or from now. Staff-only events are never shown to patients; a
   * member who is removed gets their own MEMBER_LEFT and then ACCESS_REVOKED.
   */
  async subscribe(channelId: string, after?: string | null): Promise<AsyncIterableIterator<StreamEvent>> {
    const { context } = this;
    const actor = this.person();
    const found = await context.services.channels.findParticipating(channelId);
    if (!found) throw notFound('The channel');
    const { organisationId } = found.channel;
    let afterSeq = found.channel.lastSeq;
    if (after != null) {
      const position = context.deps.cursors.decode(after);
      if (!position || position.channelId !== channelId || position.seq > found.channel.lastSeq) {
        throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid for this channel; refetch and subscribe again.');
      }
      afterSeq = position.seq;
      await this.assertRetained(organisationId, channelId, afterSeq, found.channel.lastSeq);
    }
    const membershipId = found.membership.id;
    const feed = await context.deps.live.acquireFeed(organisationId);
    return liveReader<number>({
      feed,
      start: afterSeq,
      fromDatabase: (seq, limit) =>
        loadEvents(context.em, organisationId, 'select * from channel_event where organisation_id = ? and channel_id = ? and seq > ? order by seq limit ?', [
          organisationId,
          channelId,
          seq,
          limit,
        ]),
      fromFeed: (seq, covered) => feed.channelEventsAfter(channelId, seq, covered),
      advance: (_seq, event) => event.key.seq,
      decide: ({ record }) => {
        if (record.staffOnly && actor.kind !== 'staff') return 'skip';
        return record.type === ChannelEventType.MEMBER_LEFT && record.memberId === membershipId ? 'deliver-then-end' : 'deliver';
      },
      authorize: () => this.authorize(channelId, membershipId),
      prepare: (events) => prepareBatch(context, events),
      endError: () => apiError(ApiErrorCode.ACCESS_REVOKED, 'You are no longer a member of this channel.'),
      revalidateMs: context.deps.config.live.revalidateMs,
      release: () => context.deps.live.releaseFeed(organisationId),
    });
  }

  /** Ends the stream unless the token is current, the person active and the membership unchanged. */
  private async authorize(channelId: string, membershipId: string): Promise<void> {
    const { context } = this;
    const actor = context.actor;
    if (!actor || actor.expiresAt <= Date.now()) throw unauthenticated();
    context.reset();
    if (!(await personStillActive(context))) throw unauthenticated();
    const found = await context.services.channels.findParticipating(channelId);
    if (!found || found.membership.id !== membershipId) throw apiError(ApiErrorCode.ACCESS_REVOKED, 'You are no longer a member of this channel.');
  }

  /** A resume position whose next event was removed by retention cannot be resumed. */
  private async assertRetained(organisationId: string, channelId: string, afterSeq: number, lastSeq: number): Promise<void> {
    if (afterSeq >= lastSeq) return;
    const next = await this.context.em.execute('select 1 from channel_event where organisation_id = ? and channel_id = ? and seq = ?', [
      organisationId,
      channelId,
      afterSeq + 1,
    ]);
    if (next.length === 0) throw cursorExpired();
  }

  cursorOf(event: StreamEvent): string {
    return this.context.deps.cursors.encode({ channelId: event.record.channelId, seq: event.record.seq });
  }
}

export const cursorExpired = () =>
  apiError(ApiErrorCode.CURSOR_EXPIRED, 'The cursor is older than the event history kept; refetch the current state and subscribe without `after`.');

/** Drops the rows cached for the previous batch and hands over this batch's shared rows. */
export function prepareBatch(context: Context, events: LoadedEvent[]): void {
  context.reset();
  for (const related of new Set(events.map((event) => event.related))) primeLoaders(context.loaders, related);
}

/** An archived team member or patient loses their streams. */
export async function personStillActive(context: Context): Promise<boolean> {
  const { actor, loaders } = context;
  const person =
    actor?.kind === 'staff' ? await loaders.teamMember.load(actor.teamMemberId) : actor?.kind === 'patient' ? await loaders.patient.load(actor.patientId) : undefined;
  return person !== undefined && !person.archivedAt;
}
