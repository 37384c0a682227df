import { z } from 'zod';
import type { RequestScope } from '../../graphql/context';
import type { Config } from '../../config';
import { requirePerson, type PersonActor } from '../../auth/actor';
import { UserError, UserErrorCode } from '../../errors';
import { messageBody, parseInput, perConfig, uuid } from '../../common/validation';
import { withEventLog } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import { messagePolicy } from '../../policy/messages';
import { can } from '../../policy/permissions';
import { lockChannelState } from '../channels/channel-state';
import { ChannelKind } from '../channels/channel.entity';
import { assertOpenToPatients, authorizeWrite } from './write-policy';
import type { Message } from './message.entity';
import { purgeDeletedMessageFiles } from '../attachments/attachment-sweeper';
import type { ChannelService } from '../channels/channel.service';
import type { EventBus } from '../../realtime/bus';
import type { FileStore } from '../attachments/file-store';
import type { MessageService } from './message.service';
import type { MessagingSettingsService } from '../settings/messaging-settings.service';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { RateLimits } from '../rate-limits/rate-limits';

/** What MessageEditService works with besides the request. */
export interface MessageEditServiceDeps {
  rateLimits: RateLimits;
  config: Config;
  bus: EventBus;
  orm: MikroORM;
  files: FileStore;
  messages: MessageService;
  channels: ChannelService;
  settings: MessagingSettingsService;
}

const editInput = perConfig((config: Config) => z.object({ messageId: uuid('The message id'), body: messageBody(config.limits.messageBodyChars) }));

const deleteInput = z.object({ messageId: uuid('The message id') });

/**
 * Edits and deletes. The author may change their own message; a team member with
 * MESSAGING_MANAGEMENT may change anyone's (patients' included). Every earlier body is kept as a
 * revision (staff see them); a deleted message stays in place as a tombstone.
 */
export class MessageEditService {

  constructor(
    private readonly scope: RequestScope,
    private readonly deps: MessageEditServiceDeps,
  ) {}

  async edit(input: unknown): Promise<Message> {
    const { messageId, body } = parseInput(editInput(this.deps.config), input);
    return this.change(messageId, (message) => (message.body === body ? undefined : { body, deleted: false }));
  }

  /** Deleting a deleted message changes nothing. */
  async delete(input: unknown): Promise<Message> {
    const { messageId } = parseInput(deleteInput, input);
    return this.change(messageId, () => ({ body: '', deleted: true }), true);
  }

  private async change(messageId: string, next: (message: Message) => { body: string; deleted: boolean } | undefined, deleting = false): Promise<Message> {
    const actor = requirePerson(this.scope.actor);
    await this.deps.rateLimits.consumeFor('messageEdit', actor);
    const message = await this.deps.messages.findVisible(messageId);
    if (!message) throw new UserError(UserErrorCode.NOT_FOUND, 'No such message.', 'input.messageId');
    if (!mayChange(actor, message)) {
      throw new UserError(UserErrorCode.FORBIDDEN, "Only the author, or a team member with the Messaging Management permission, may change this message.", 'input.messageId');
    }
    await refuseCrossClinicChange(this.scope, message);
    if (message.deletedAt) {
      if (deleting) return message;
      throw new UserError(UserErrorCode.MESSAGE_DELETED, 'This message was deleted.', 'input.messageId');
    }
    const change = next(message);
    if (!change) return message;
    // A patient changes their messages only while they may still write here (entitled, portal access).
    if (actor.kind === 'patient') {
      const found = await this.deps.channels.findParticipating(message.channelId);
      if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such message.', 'input.messageId');
      await authorizeWrite(this.scope, this.deps.settings, actor, found.channel, found.membership, undefined);
    }
    const { organisationId } = actor;
    await withEventLog(this.scope, this.deps.bus, organisationId, actor, async (log) => {
      // The channel's lock orders this change among the channel's other events.
      const state = await lockChannelState(log, organisationId, message.channelId);
      if (actor.kind === 'patient') assertOpenToPatients(state);
      const replacedBy = actor.kind === 'staff' ? [actor.teamMemberId, null] : [null, actor.patientId];
      const [current] = await log.em.execute<Array<{ body: string; deleted_at: Date | null }>>(
        'select body, deleted_at from message where organisation_id = ? and id = ? for update',
        [organisationId, message.id],
      );
      if (current.deleted_at) throw new UserError(UserErrorCode.MESSAGE_DELETED, 'This message was deleted.', 'input.messageId');
      await log.em.execute(
        'insert into message_revision (organisation_id, message_id, body, replaced_by_team_member_id, replaced_by_patient_id) values (?, ?, ?, ?, ?)',
        [organisationId, message.id, current.body, ...replacedBy],
      );
      await log.em.execute(
        change.deleted
          ? 'update message set body = ?, deleted_at = now(), deleted_by_team_member_id = ?, deleted_by_patient_id = ? where organisation_id = ? and id = ?'
          : 'update message set body = ?, edited_at = now() where organisation_id = ? and id = ?',
        change.deleted ? [change.body, ...replacedBy, organisationId, message.id] : [change.body, organisationId, message.id],
      );
      // Edits and deletes do not move the channel up in lists.
      const seq = await log.nextSeq(message.channelId, false);
      await log.append(
        { channelId: message.channelId, type: change.deleted ? ChannelEventType.MESSAGE_DELETED : ChannelEventType.MESSAGE_EDITED, messageId: message.id, ...messagePolicy.eventAudience(message) },
        seq,
      );
    });
    this.scope.reset();
    if (change.deleted) {
      // The deleted message's files go with it now (the hourly sweep catches any this misses).
      await purgeDeletedMessageFiles(this.deps.orm, this.deps.files, { organisationId, messageId: message.id }).catch((error) =>
        this.scope.logger.warn({ err: error, messageId: message.id }, 'removing a deleted message’s files failed; the sweep will retry'),
      );
    }
    return (await this.scope.loaders.message.load(message.id))!;
  }
}

/**
 * What crossed between clinics is not changed afterwards: another clinic's words are theirs, and
 * what was sent to another clinic has arrived there (edits and deletes do not travel).
 */
async function refuseCrossClinicChange(scope: RequestScope, message: Message): Promise<void> {
  if (message.remoteAuthorName) throw new UserError(UserErrorCode.FORBIDDEN, 'A message from another clinic cannot be changed here.', 'input.messageId');
  const channel = await scope.loaders.channel.load(message.channelId);
  if (channel?.kind === ChannelKind.CLINIC) {
    throw new UserError(UserErrorCode.UNSUPPORTED_CHANNEL_KIND, 'A message sent to another clinic cannot be changed or deleted once sent; send a correction instead.', 'input.messageId');
  }
}

function mayChange(actor: PersonActor, message: Message): boolean {
  if (actor.kind === 'patient') return message.authorPatientId === actor.patientId;
  return message.authorTeamMemberId === actor.teamMemberId || can(actor, 'changeOthersMessages');
}
