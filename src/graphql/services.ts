import type { AppDeps, RequestScope } from './context';
import { OrganisationService } from '../modules/organisations/organisation.service';
import { DirectoryService } from '../modules/directory/directory.service';
import { ChannelService } from '../modules/channels/channel.service';
import { ChannelMembershipService } from '../modules/channels/channel-membership.service';
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

/** The services of one operation, by the name resolvers use. */
export interface Services {
  readonly organisations: OrganisationService;
  readonly directory: DirectoryService;
  readonly channels: ChannelService;
  readonly channelMemberships: ChannelMembershipService;
  readonly messages: MessageService;
  readonly messageEdits: MessageEditService;
  readonly reactions: ReactionService;
  readonly attachments: AttachmentService;
  readonly templates: TemplateService;
  readonly readState: ReadStateService;
  readonly channelEvents: ChannelEventService;
  readonly inboxEvents: InboxEventService;
  readonly typing: TypingService;
  readonly audit: AuditService;
  readonly teamChannels: TeamChannelService;
  readonly activationRules: ActivationRuleService;
  readonly conversations: ConversationService;
  readonly messagingSettings: MessagingSettingsService;
  readonly notificationPreferences: NotificationPreferencesService;
  readonly notificationTemplates: NotificationTemplateService;
}

/**
 * Wires the services of one operation, each with the collaborators it names and nothing else.
 * A service is built on first use, with its collaborators, so a long-lived subscription keeps
 * only the few it touches (this is memory per open subscriber). The one place that knows who
 * depends on whom.
 */
export function createServices(scope: RequestScope, app: AppDeps): Services {
  const { bus, config, cursors, live, orm, files, auditLog } = app;
  const services = {} as Services;
  const provide = <K extends keyof Services>(name: K, build: () => Services[K]) => {
    let built: Services[K] | undefined;
    Object.defineProperty(services, name, { enumerable: true, get: () => (built ??= build()) });
  };
  const s = services;
  provide('organisations', () => new OrganisationService(scope));
  provide('messagingSettings', () => new MessagingSettingsService(scope));
  provide('audit', () => new AuditService(scope, { auditLog }));
  provide('activationRules', () => new ActivationRuleService(scope));
  provide('notificationTemplates', () => new NotificationTemplateService(scope));
  provide('templates', () => new TemplateService(scope, { config, organisations: s.organisations }));
  provide('attachments', () => new AttachmentService(scope, { config, cursors, settings: s.messagingSettings }));
  provide('channels', () => new ChannelService(scope, { bus }));
  provide('channelMemberships', () => new ChannelMembershipService(scope, { bus, channels: s.channels }));
  provide('directory', () => new DirectoryService(scope, { bus, activationRules: s.activationRules }));
  provide('messages', () => new MessageService(scope, { bus, cursors, config, channels: s.channels, attachments: s.attachments, templates: s.templates, settings: s.messagingSettings }));
  provide('messageEdits', () => new MessageEditService(scope, { bus, config, orm, files, messages: s.messages, channels: s.channels, settings: s.messagingSettings }));
  provide('reactions', () => new ReactionService(scope, { bus, messages: s.messages, channels: s.channels, settings: s.messagingSettings }));
  provide('readState', () => new ReadStateService(scope, { bus, channels: s.channels }));
  provide('teamChannels', () => new TeamChannelService(scope, { bus, channels: s.channels, settings: s.messagingSettings }));
  provide('conversations', () =>
    new ConversationService(scope, { bus, config, settings: s.messagingSettings, attachments: s.attachments, templates: s.templates, channels: s.channels }),
  );
  provide('notificationPreferences', () => new NotificationPreferencesService(scope, { config, settings: s.messagingSettings }));
  provide('channelEvents', () => new ChannelEventService(scope, { cursors, live, config, channels: s.channels }));
  provide('inboxEvents', () => new InboxEventService(scope, { cursors, live, config }));
  provide('typing', () => new TypingService(scope, { bus, config, live, channels: s.channels }));
  return services;
}
