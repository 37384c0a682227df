import { z } from 'zod';
import type { Context } from '../../graphql/context';
import { UserError, UserErrorCode, apiError, ApiErrorCode } from '../../errors';
import { requirePerson, type PersonActor } from '../../auth/actor';
import { assertOpenToPatients, authorizeWrite } from './write-policy';
import { lockChannelState } from '../channels/channel-state';
import { messageBody, parseInput, uuid } from '../../common/validation';
import type { PageRequest } from '../../common/pagination';
import { connectionOf, type Connection } from '../../common/graphql-types';
import { withEventLog, type EventLogTransaction } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import type { Channel } from '../channels/channel.entity';
import { Message } from './message.entity';

export class MessageService {
  private readonly sendInput;

  constructor(private readonly context: Context) {
    this.sendInput = z.object({
      channelId: uuid('The channel id'),
      body: messageBody(context.deps.config.limits.messageBodyChars),
      onBehalfOfPatientId: uuid('The dependant id').nullish(),
    });
  }

  /** Sends a message to a channel the caller is a member of (a guardian writes for their dependant). */
  async send(input: unknown): Promise<Message> {
    const actor = requirePerson(this.context.actor);
    const { channelId, body, onBehalfOfPatientId } = parseInput(this.sendInput, input);
    const found = await this.context.services.channels.findParticipating(channelId);
    if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    const attribution = await authorizeWrite(this.context, actor, found.channel, found.membership, onBehalfOfPatientId);
    return withEventLog(this.context.em, this.context.deps.bus, actor.organisationId, actor, async (log) => {
      // Checked again under the channel's lock: a message never lands after the conversation closed.
      if (actor.kind === 'patient') assertOpenToPatients(await lockChannelState(log, actor.organisationId, channelId));
      return appendMessage(log, actor, channelId, body, attribution.onBehalfOfPatientId);
    });
  }

  /** A page of a channel's messages in sequence order, by keyset on the sequence number. */
  async page(channel: Channel, request: PageRequest): Promise<Connection<Message>> {
    const cursors = this.context.deps.cursors;
    const raw = request.direction === 'forward' ? request.after : request.before;
    let boundary: number | undefined;
    if (raw !== undefined) {
      const position = cursors.decode(raw);
      if (!position || position.channelId !== channel.id) throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid for this channel.');
      boundary = position.seq;
    }
    const forward = request.direction === 'forward';
    const where: Record<string, unknown> = { organisationId: channel.organisationId, channelId: channel.id };
    if (boundary !== undefined) where.seq = forward ? { $gt: boundary } : { $lt: boundary };
    const rows = await this.context.em.find(Message, where, { orderBy: { seq: forward ? 'asc' : 'desc' }, limit: request.limit + 1 });
    const more = rows.length > request.limit;
    const page = rows.slice(0, request.limit);
    if (!forward) page.reverse();
    return connectionOf(page, (message) => cursors.encode({ channelId: message.channelId, seq: message.seq }), {
      hasNextPage: forward && more,
      hasPreviousPage: !forward && more,
    });
  }

  async findVisible(messageId: string): Promise<Message | undefined> {
    if (!uuid('id').safeParse(messageId).success) return undefined;
    const message = await this.context.loaders.message.load(messageId);
    if (!message) return undefined;
    const channel = await this.context.services.channels.findParticipating(message.channelId);
    return channel ? message : undefined;
  }
}

/** Writes a message and its MESSAGE_SENT event in the caller's transaction. */
export async function appendMessage(log: EventLogTransaction, actor: PersonActor, channelId: string, body: string, onBehalfOfPatientId: string | null): Promise<Message> {
  const seq = await log.nextSeq(channelId);
  const message = log.em.create(Message, {
    organisationId: actor.organisationId,
    channelId,
    seq,
    body,
    authorTeamMemberId: actor.kind === 'staff' ? actor.teamMemberId : null,
    authorPatientId: actor.kind === 'patient' ? actor.patientId : null,
    onBehalfOfPatientId,
    createdAt: new Date(),
  });
  await log.em.flush();
  await log.append({ channelId, type: ChannelEventType.MESSAGE_SENT, messageId: message.id }, seq);
  return message;
}
