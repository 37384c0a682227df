import { z } from 'zod';
import emojiRegex from 'emoji-regex';
import type { RequestScope } from '../../graphql/context';
import { requirePerson } from '../../auth/actor';
import { UserError, UserErrorCode } from '../../errors';
import { parseInput, uuid } from '../../common/validation';
import { withEventLog } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import { lockChannelState } from '../channels/channel-state';
import { assertOpenToPatients, authorizeWrite } from './write-policy';
import { messagePolicy } from '../../policy/messages';
import type { ReactionSummary } from './reaction.queries';
import type { Message } from './message.entity';
import type { ChannelService } from '../channels/channel.service';
import type { EventBus } from '../../realtime/bus';
import type { MessageService } from './message.service';
import type { MessagingSettingsService } from '../settings/messaging-settings.service';
import type { RateLimits } from '../rate-limits/rate-limits';

const MAX_REACTIONS_PER_PERSON = 20;

/** Exactly one emoji (a like is 👍), as the Unicode emoji list defines them. */
export function isSingleEmoji(value: string): boolean {
  const matches = value.match(emojiRegex());
  return matches !== null && matches.length === 1 && matches[0] === value;
}

const reactionInput = z.object({
  messageId: uuid('The message id'),
  emoji: z.string().max(64).refine(isSingleEmoji, { message: 'Not a single emoji.', params: { code: UserErrorCode.INVALID_EMOJI } }),
});

/** What ReactionService works with besides the request. */
export interface ReactionServiceDeps {
  rateLimits: RateLimits;
  bus: EventBus;
  messages: MessageService;
  channels: ChannelService;
  settings: MessagingSettingsService;
}

/** Likes and emoji reactions: one of each emoji per person per message. */
export class ReactionService {
  constructor(private readonly scope: RequestScope, private readonly deps: ReactionServiceDeps) {}

  /** Adds the caller's reaction; adding it again changes nothing. */
  add(input: unknown): Promise<{ message: Message; reaction: ReactionSummary }> {
    return this.change(input, true);
  }

  /** Removes the caller's reaction; removing one they never made changes nothing. */
  remove(input: unknown): Promise<{ message: Message; reaction: ReactionSummary }> {
    return this.change(input, false);
  }

  private async change(input: unknown, adding: boolean): Promise<{ message: Message; reaction: ReactionSummary }> {
    const actor = requirePerson(this.scope.actor);
    const { messageId, emoji } = parseInput(reactionInput, input);
    await this.deps.rateLimits.consumeFor('reaction', actor);
    const message = await this.deps.messages.findVisible(messageId);
    if (!message) throw new UserError(UserErrorCode.NOT_FOUND, 'No such message.', 'input.messageId');
    if (message.deletedAt) throw new UserError(UserErrorCode.MESSAGE_DELETED, 'This message was deleted.', 'input.messageId');
    if (actor.kind === 'patient' && adding) {
      const found = await this.deps.channels.findParticipating(message.channelId);
      if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such message.', 'input.messageId');
      await authorizeWrite(this.scope, this.deps.settings, actor, found.channel, found.membership, undefined);
    }
    const { organisationId } = actor;
    const [teamMemberId, patientId] = actor.kind === 'staff' ? [actor.teamMemberId, null] : [null, actor.patientId];
    await withEventLog(this.scope, this.deps.bus, organisationId, actor, async (log) => {
      const state = await lockChannelState(log, organisationId, message.channelId);
      if (actor.kind === 'patient') assertOpenToPatients(state);
      const [current] = await log.em.execute<Array<{ deleted_at: string | null; mine: string }>>(
        `select deleted_at, (select count(*) from message_reaction r where r.organisation_id = m.organisation_id and r.message_id = m.id
                               and r.team_member_id is not distinct from ? and r.patient_id is not distinct from ?) as mine
           from message m where m.organisation_id = ? and m.id = ? for update`,
        [teamMemberId, patientId, organisationId, message.id],
      );
      if (current.deleted_at) throw new UserError(UserErrorCode.MESSAGE_DELETED, 'This message was deleted.', 'input.messageId');
      if (adding && Number(current.mine) >= MAX_REACTIONS_PER_PERSON) {
        throw new UserError(UserErrorCode.INVALID_INPUT, `At most ${MAX_REACTIONS_PER_PERSON} different reactions per person on a message.`, 'input.emoji');
      }
      const changed = adding
        ? await log.em.execute(
            `insert into message_reaction (organisation_id, message_id, emoji, team_member_id, patient_id) values (?, ?, ?, ?, ?)
             on conflict do nothing returning emoji`,
            [organisationId, message.id, emoji, teamMemberId, patientId],
          )
        : await log.em.execute(
            `delete from message_reaction where organisation_id = ? and message_id = ? and emoji = ?
               and team_member_id is not distinct from ? and patient_id is not distinct from ? returning emoji`,
            [organisationId, message.id, emoji, teamMemberId, patientId],
          );
      if (changed.length === 0) return;
      const seq = await log.nextSeq(message.channelId, false);
      await log.append({ channelId: message.channelId, type: ChannelEventType.REACTION_CHANGED, messageId: message.id, ...messagePolicy.eventAudience(message) }, seq);
    });
    this.scope.loaders.reactions.clear(message.id);
    const summaries = await this.scope.loaders.reactions.load(message.id);
    return { message, reaction: summaries.find((summary) => summary.emoji === emoji) ?? { emoji, count: 0, reactedByMe: false } };
  }
}
