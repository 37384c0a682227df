import type { Context } from '../graphql/context';
import { apiError, ApiErrorCode, forbidden, notFound, unauthenticated } from '../errors';
import { ChannelEventRecord } from './channel-event.entity';
import { channelEventStream } from './channel-event-stream';

export class ChannelEventService {
  constructor(private readonly context: Context) {}

  /**
   * Opens the event stream of a channel the caller takes part in, from `after` (a cursor from
   * an earlier event or message) or from now. Access is checked when it starts and again before
   * every batch of events; losing it ends the stream with NOT_FOUND.
   */
  async subscribe(channelId: string, after?: string | null): Promise<AsyncIterableIterator<ChannelEventRecord>> {
    const { context } = this;
    // Shield guards `resolve`, not `subscribe`: the role rule is enforced here as well.
    if (!context.actor) throw unauthenticated();
    if (context.actor.kind !== 'staff' && context.actor.kind !== 'patient') throw forbidden();
    const found = await context.services.channels.findParticipating(channelId);
    if (!found) throw notFound('The channel');
    let afterSeq = found.channel.lastSeq;
    if (after != null) {
      const position = context.deps.cursors.decode(after);
      if (!position || position.channelId !== channelId || position.seq > found.channel.lastSeq) {
        throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid for this channel; refetch and subscribe again.');
      }
      afterSeq = position.seq;
    }
    const { organisationId } = found.channel;
    return channelEventStream({
      bus: context.deps.bus,
      channelId,
      afterSeq,
      load: (seq, limit) =>
        context.em.find(ChannelEventRecord, { organisationId, channelId, seq: { $gt: seq } }, { orderBy: { seq: 'asc' }, limit }),
      authorize: async () => {
        const actor = context.actor;
        if (!actor || actor.expiresAt <= Date.now()) throw unauthenticated();
        // Rows cached for the previous batch are dropped, so memory stays bounded by one batch.
        context.reset();
        if (!(await this.personStillActive())) throw unauthenticated();
        if (!(await context.services.channels.findParticipating(channelId))) throw notFound('The channel');
      },
    });
  }

  /** An archived team member or patient loses their open streams at the next batch. */
  private async personStillActive(): Promise<boolean> {
    const { actor, loaders } = this.context;
    const person =
      actor?.kind === 'staff' ? await loaders.teamMember.load(actor.teamMemberId) : actor?.kind === 'patient' ? await loaders.patient.load(actor.patientId) : undefined;
    return person !== undefined && !person.archivedAt;
  }

  cursorOf(event: ChannelEventRecord): string {
    return this.context.deps.cursors.encode({ channelId: event.channelId, seq: event.seq });
  }
}
