import { WebhookService } from '../modules/webhooks/webhook.service';
import { AccessLogService } from '../modules/audit/access-log.service';
import { ResponsesDueService } from '../modules/escalation/responses-due.service';
import type { AppDeps, RequestScope } from './context';
import { OrganisationService } from '../modules/organisations/organisation.service';
import { DirectoryService } from '../modules/directory/directory.service';
import { ChannelService } from '../modules/channels/channel.service';
import { ChannelMembershipService } from '../modules/channels/channel-membership.service';
import { MessageService } from '../modules/messages/message.service';
import { MessageEditService } from '../modules/messages/message-edit.service';
import { ReactionService } from '../modules/messages/reaction.service';
import { AttachmentService } from '../modules/attachments/attachment.service';
import { ChartDocumentService } from '../modules/chart/chart-document.service';
import { ClinicService } from '../modules/clinics/clinic.service';
import { HandoverService } from '../modules/clinics/handover.service';
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
  readonly chartDocuments: ChartDocumentService;
  readonly clinics: ClinicService;
  readonly handovers: HandoverService;
  readonly templates: TemplateService;
  readonly readState: ReadStateService;
  readonly channelEvents: ChannelEventService;
  readonly inboxEvents: InboxEventService;
  readonly typing: TypingService;
  readonly audit: AuditService;
  readonly accessLog: AccessLogService;
  readonly responsesDue: ResponsesDueService;
  readonly webhooks: WebhookService;
  readonly teamChannels: TeamChannelService;
  readonly activationRules: ActivationRuleService;
  readonly conversations: ConversationService;
  readonly messagingSettings: MessagingSettingsService;
  readonly notificationPreferences: NotificationPreferencesService;
  readonly notificationTemplates: NotificationTemplateService;
}

/**
 * Wires the services of one operation, each with the collaborators it names and nothing else.
 * A service is built on first use, and so is each collaborator when it is first used, so a
 * request or a long-lived subscription builds only what it touches. The one place that knows who
 * depends on whom.
 */
export function createServices(scope: RequestScope, app: AppDeps): Services {
  const { bus, config, cursors, live, orm, files, auditLog, settingsCache, rateLimits, clinicRelay, webhookSecrets, webhookDispatcher, clock } = app;
  const services = {} as Services;
  const provide = <K extends keyof Services>(name: K, build: () => Services[K]) => {
    let built: Services[K] | undefined;
    Object.defineProperty(services, name, { enumerable: true, get: () => (built ??= build()) });
  };
  /** Plain collaborators as they are, services as getters: a service is built only once it is used. */
  const deps = <V extends object, M extends Record<string, keyof Services>>(values: V, uses: M): V & { readonly [N in keyof M]: Services[M[N]] } => {
    const out = { ...values } as V & { [N in keyof M]: Services[M[N]] };
    for (const [as, name] of Object.entries(uses)) Object.defineProperty(out, as, { enumerable: true, get: () => services[name] });
    return out;
  };
  provide('organisations', () => new OrganisationService(scope));
  provide('messagingSettings', () => new MessagingSettingsService(scope, { cache: settingsCache, bus }));
  provide('audit', () => new AuditService(scope, { auditLog, cursors }));
  provide('accessLog', () => new AccessLogService(scope, { auditLog, cursors }));
  provide('responsesDue', () => new ResponsesDueService(scope, deps({ cursors, clock }, { channels: 'channels' })));
  provide('webhooks', () => new WebhookService(scope, { config, cursors, secrets: webhookSecrets, dispatcher: webhookDispatcher }));
  provide('activationRules', () => new ActivationRuleService(scope));
  provide('notificationTemplates', () => new NotificationTemplateService(scope));
  provide('templates', () => new TemplateService(scope, deps({ config }, { organisations: 'organisations' })));
  provide('attachments', () => new AttachmentService(scope, deps({ config, cursors, rateLimits }, { settings: 'messagingSettings' })));
  provide('chartDocuments', () => new ChartDocumentService(scope, { files, cursors }));
  provide('clinics', () => new ClinicService(scope, deps({ config, bus, cursors, rateLimits, relay: clinicRelay }, { settings: 'messagingSettings' })));
  provide('handovers', () => new HandoverService(scope, deps({ bus, cursors, files, relay: clinicRelay }, { channels: 'channels', clinics: 'clinics', activationRules: 'activationRules' })));
  provide('channels', () => new ChannelService(scope, deps({ bus, cursors }, { settings: 'messagingSettings' })));
  provide('channelMemberships', () => new ChannelMembershipService(scope, deps({ bus }, { channels: 'channels' })));
  provide('directory', () => new DirectoryService(scope, deps({ bus }, { activationRules: 'activationRules' })));
  provide('messages', () => new MessageService(scope, deps({ bus, cursors, config, rateLimits }, { channels: 'channels', attachments: 'attachments', chartDocuments: 'chartDocuments', clinics: 'clinics', templates: 'templates', settings: 'messagingSettings' })));
  provide('messageEdits', () => new MessageEditService(scope, deps({ bus, config, orm, files, rateLimits }, { messages: 'messages', channels: 'channels', settings: 'messagingSettings' })));
  provide('reactions', () => new ReactionService(scope, deps({ bus, rateLimits }, { messages: 'messages', channels: 'channels', settings: 'messagingSettings' })));
  provide('readState', () => new ReadStateService(scope, deps({ bus }, { channels: 'channels' })));
  provide('teamChannels', () => new TeamChannelService(scope, deps({ bus }, { channels: 'channels', settings: 'messagingSettings' })));
  provide('conversations', () =>
    new ConversationService(scope, deps({ bus, config, rateLimits }, { settings: 'messagingSettings', attachments: 'attachments', chartDocuments: 'chartDocuments', clinics: 'clinics', templates: 'templates', channels: 'channels' })),
  );
  provide('notificationPreferences', () => new NotificationPreferencesService(scope, deps({ config }, { settings: 'messagingSettings' })));
  provide('channelEvents', () => new ChannelEventService(scope, deps({ cursors, live, config }, { channels: 'channels' })));
  provide('inboxEvents', () => new InboxEventService(scope, { cursors, live, config }));
  provide('typing', () => new TypingService(scope, deps({ bus, config, live, rateLimits }, { channels: 'channels' })));
  return services;
}
