import type { Context } from './context';
import { OrganisationService } from '../modules/organisations/organisation.service';
import { DirectoryService } from '../modules/directory/directory.service';
import { ChannelService } from '../modules/channels/channel.service';
import { MessageService } from '../modules/messages/message.service';
import { MessageEditService } from '../modules/messages/message-edit.service';
import { ReactionService } from '../modules/messages/reaction.service';
import { AttachmentService } from '../modules/attachments/attachment.service';
import { TemplateService } from '../modules/templates/template.service';
import { ReadStateService } from '../modules/messages/read-state.service';
import { ChannelEventService } from '../realtime/channel-events.service';
import { InboxEventService } from '../realtime/inbox-events.service';
import { TypingService } from '../realtime/typing.service';
import { AuditService } from '../modules/audit/audit.service';
import { TeamChannelService } from '../modules/channels/team-channels.service';
import { ActivationRuleService } from '../modules/channels/activation-rules.service';
import { ConversationService } from '../modules/channels/conversation.service';
import { MessagingSettingsService } from '../modules/settings/messaging-settings.service';
import { NotificationPreferencesService } from '../modules/notifications/notification-preferences.service';
import { NotificationTemplateService } from '../modules/notifications/notification-template.service';

const serviceClasses = {
  organisations: OrganisationService,
  directory: DirectoryService,
  channels: ChannelService,
  messages: MessageService,
  messageEdits: MessageEditService,
  reactions: ReactionService,
  attachments: AttachmentService,
  templates: TemplateService,
  readState: ReadStateService,
  channelEvents: ChannelEventService,
  inboxEvents: InboxEventService,
  typing: TypingService,
  audit: AuditService,
  teamChannels: TeamChannelService,
  activationRules: ActivationRuleService,
  conversations: ConversationService,
  messagingSettings: MessagingSettingsService,
  notificationPreferences: NotificationPreferencesService,
  notificationTemplates: NotificationTemplateService,
};

export type Services = { readonly [K in keyof typeof serviceClasses]: InstanceType<(typeof serviceClasses)[K]> };

/**
 * The services of one operation, each built on first use: a long-lived subscription keeps only
 * the few it touches (this is memory per open subscriber).
 */
export function createServices(context: Context): Services {
  const built: Partial<Record<keyof Services, unknown>> = {};
  const services = {} as Services;
  for (const [name, Service] of Object.entries(serviceClasses) as Array<[keyof Services, new (context: Context) => unknown]>) {
    Object.defineProperty(services, name, { enumerable: true, get: () => (built[name] ??= new Service(context)) });
  }
  return services;
}
