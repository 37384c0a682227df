import { z } from 'zod';
import type { RequestScope } from '../../graphql/context';
import { requirePerson, personIdOf } from '../../auth/actor';
import { UserError, UserErrorCode } from '../../errors';
import { parseInput, uuid } from '../../common/validation';
import { withEventLog } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import type { Channel } from '../channels/channel.entity';
import { Message } from './message.entity';
import { messagePolicy } from '../../policy/messages';
import { unreadTotal } from './read-state.queries';
import type { ChannelService } from '../channels/channel.service';
import type { EventBus } from '../../realtime/bus';

const markReadInput = z.object({ channelId: uuid('The channel id'), messageId: uuid('The message id') });

/** What ReadStateService works with besides the request. */
export interface ReadStateServiceDeps {
  bus: EventBus;
  channels: ChannelService;
}

/**
 * Read positions and unread counts. A member's position only moves forward; unread counts are
 * messages after it written by others, in channels the member takes part in.
 */
export class ReadStateService {
  constructor(private readonly scope: RequestScope, private readonly deps: ReadStateServiceDeps) {}

  /**
   * Marks a channel read up to a message. Moving the position writes a READ_MARKED event that
   * only the reader is told of (their other devices update their counts).
   */
  async markRead(input: unknown): Promise<Channel> {
    const actor = requirePerson(this.scope.actor);
    const { channelId, messageId } = parseInput(markReadInput, input);
    const found = await this.deps.channels.findParticipating(channelId);
    if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    const { organisationId } = actor;
    const message = await this.scope.em.findOne(Message, { organisationId, id: messageId, channelId });
    if (!message || !messagePolicy.canSee(actor, message)) throw new UserError(UserErrorCode.NOT_FOUND, 'No such message in this channel.', 'input.messageId');
    const who = personIdOf(actor);
    await withEventLog(this.scope, this.deps.bus, organisationId, actor, async (log) => {
      const moved = await log.em.execute<Array<{ id: string }>>(
        `update channel_member set last_read_seq = ?, last_read_at = now()
          where organisation_id = ? and id = ? and left_at is null and last_read_seq < ? returning id`,
        [message.seq, organisationId, found.membership.id, message.seq],
      );
      if (moved.length === 0) return;
      const seq = await log.nextSeq(channelId, false);
      await log.append({ channelId, type: ChannelEventType.READ_MARKED, messageId, subject: who, subjectOnly: true }, seq);
    });
    // The membership row changed behind the identity map: read it afresh for the payload.
    this.scope.reset();
    return found.channel;
  }

  /** Unread messages across the caller's channels, archived ones excluded: the badge. */
  async badgeCount(): Promise<number> {
    const actor = requirePerson(this.scope.actor);
    return unreadTotal(this.scope.em, actor.organisationId, actor);
  }
}
