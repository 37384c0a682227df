import type { MessagingSettingsService } from '../settings/messaging-settings.service';
import { channelPolicy } from '../../policy/channels';
import type { PersonActor } from '../../auth/actor';
import type { EventLogTransaction } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import type { ChannelKind } from '../channels/channel.entity';
import { isOpen } from '../settings/messaging-settings.service';
import { Message } from './message.entity';


/** The automatic reply a patient's message may get under these settings now (null: none), before the once-per-period check. */
export async function autoReplyText(settingsService: MessagingSettingsService, actor: PersonActor, channel: { kind: ChannelKind }, newConversation: boolean): Promise<string | null> {
  if (actor.kind !== 'patient' || !channelPolicy.reachesPatient(channel.kind)) return null;
  const settings = await settingsService.current();
  return newConversation && settings.autoReplyNewConversation ? settings.autoReplyNewConversation : !isOpen(settings, new Date()) ? settings.autoReplyOutsideHours : null;
}

/**
 * In the transaction of a patient's message: the organisation's automatic reply, as a system
 * message, when the patient starts a conversation or writes outside opening hours, at most once
 * per channel per period (the channel's row is already locked by the message).
 */
export async function autoReply(settingsService: MessagingSettingsService, log: EventLogTransaction, actor: PersonActor, channel: { id: string; kind: ChannelKind }, newConversation: boolean): Promise<void> {
  const text = await autoReplyText(settingsService, actor, channel, newConversation);
  if (!text) return;
  const settings = await settingsService.current();
  const due = await log.em.execute(
    `update channel set last_auto_reply_at = now()
      where organisation_id = ? and id = ? and (last_auto_reply_at is null or last_auto_reply_at < now() - make_interval(hours => ?))
      returning id`,
    [actor.organisationId, channel.id, settings.autoReplyPeriodHours],
  );
  if (due.length === 0) return;
  const seq = await log.nextSeq(channel.id);
  const message = log.em.create(Message, { organisationId: actor.organisationId, channelId: channel.id, seq, body: text, system: true, createdAt: new Date() });
  await log.em.flush();
  await log.append({ channelId: channel.id, type: ChannelEventType.MESSAGE_SENT, messageId: message.id }, seq);
}
