import { z } from 'zod';
import type { RequestScope } from '../graphql/context';
import { UserError, UserErrorCode, apiError, ApiErrorCode, notFound } from '../errors';
import { parseInput, uuid } from '../common/validation';
import { requirePerson, type PersonActor, personIdOf } from '../auth/actor';
import type { Channel } from '../modules/channels/channel.entity';
import type { TypingNotice } from './bus';
import { assertStreamCaller } from './channel-events.service';
import { stoppable } from './iterators';
import { actorKey } from './event-batch';
import { eventPolicy } from '../policy/events';
import { messagePolicy } from '../policy/messages';
import type { ChannelService } from '../modules/channels/channel.service';
import type { Config } from '../config';
import type { EventBus } from './bus';
import type { LiveHub } from './live-hub';
import type { RateLimits } from '../modules/rate-limits/rate-limits';

const typingInput = z.object({ channelId: uuid('The channel id'), internal: z.boolean().nullish() });

/** At most this many typing notices wait for a slow subscriber; older ones are dropped (they are ephemeral). */
const QUEUE_LIMIT = 20;
/** Membership is re-checked at most this often while typing notices flow. */
const RECHECK_MS = 5_000;

/** Last accepted typing notice per person and channel, in this process. */
const lastTyping = new Map<string, number>();

/** What TypingService works with besides the request. */
export interface TypingServiceDeps {
  rateLimits: RateLimits;
  bus: EventBus;
  config: Config;
  live: LiveHub;
  channels: ChannelService;
}

/**
 * Typing indicators: ephemeral, never stored, carried by the bus between processes, and
 * rate-limited per person and channel (extra calls within the interval are accepted and dropped).
 */
export class TypingService {
  constructor(private readonly scope: RequestScope, private readonly deps: TypingServiceDeps) {}

  private person(): PersonActor {
    // The guard wraps `resolve`, not `subscribe`: the role rule is enforced here as well.
    return requirePerson(this.scope.actor);
  }

  async start(input: unknown): Promise<Channel> {
    const actor = this.person();
    const { channelId, internal } = parseInput(typingInput, input);
    if (internal && !messagePolicy.canWriteInternal(actor)) throw new UserError(UserErrorCode.FORBIDDEN, 'Only team members write internal notes.', 'input.internal');
    const found = await this.deps.channels.findParticipating(channelId);
    if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    const who = personIdOf(actor);
    const key = `${channelId}:${who.teamMemberId ?? who.patientId}`;
    const now = Date.now();
    const interval = this.deps.config.live.typingIntervalMs;
    if (now - (lastTyping.get(key) ?? 0) >= interval) {
      // Only notices really sent count (a client calling on every keystroke is throttled above, not limited).
      await this.deps.rateLimits.consumeFor('typing', actor);
      lastTyping.set(key, now);
      if (lastTyping.size > 10_000) for (const [k, at] of lastTyping) if (now - at >= interval) lastTyping.delete(k);
      await this.deps.bus.publish({ kind: 'typing', organisationId: actor.organisationId, channelId, ...who, staffOnly: Boolean(internal), at: now });
    }
    return found.channel;
  }

  /** Typing notices of a channel the caller takes part in, except their own. */
  async subscribe(channelId: string): Promise<AsyncIterableIterator<TypingNotice>> {
    const { scope, deps } = this;
    const actor = this.person();
    const found = await deps.channels.findParticipating(channelId);
    if (!found) throw notFound('The channel');
    const membershipId = found.membership.id;
    const viewer = { kind: actor.kind, key: actorKey(actor) };
    const queue: TypingNotice[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    // Zero: the first notice is only shown after access is checked again.
    let checkedAt = 0;
    const stop = deps.live.onTyping(channelId, (notice) => {
      if (notice.organisationId !== actor.organisationId || !eventPolicy.canSeeTyping(viewer, notice)) return;
      queue.push(notice);
      if (queue.length > QUEUE_LIMIT) queue.shift();
      wake?.();
    });
    const finish = () => {
      done = true;
      stop();
      scope.connectionSignal?.removeEventListener('abort', finish);
      wake?.();
    };
    scope.connectionSignal?.addEventListener('abort', finish);
    const authorize = async () => {
      await assertStreamCaller(scope);
      const still = await deps.channels.findParticipating(channelId);
      if (!still || still.membership.id !== membershipId) throw apiError(ApiErrorCode.ACCESS_REVOKED, 'You are no longer a member of this channel.');
    };
    async function* read(): AsyncGenerator<TypingNotice> {
      try {
        while (!done) {
          const notice = queue.shift();
          if (!notice) {
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
            continue;
          }
          if (Date.now() - checkedAt >= Math.min(RECHECK_MS, deps.config.live.revalidateMs)) {
            await authorize();
            checkedAt = Date.now();
          }
          yield notice;
        }
      } finally {
        finish();
      }
    }
    return stoppable(read(), finish);
  }
}
