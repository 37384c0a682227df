import type { GraphQLError } from 'graphql';
import type { Context } from './context';
import { forbidden, unauthenticated } from '../errors';

/**
 * Who may call each operation. Rows and fields are checked again in the services and the policy
 * layer; this map is the first wall. Anything not listed is refused (guard.ts checks the map
 * covers every operation and object type when the schema is built).
 */
export type Rule = (context: Context) => true | GraphQLError;

/** Reaching an object type already passed an operation rule: what each field shows is the presenters' and the policy's. */
export const allow: Rule = () => true;
const authenticated: Rule = ({ actor }) => (actor ? true : unauthenticated());
const role =
  (...kinds: string[]): Rule =>
  ({ actor }) =>
    !actor ? unauthenticated() : kinds.includes(actor.kind) ? true : forbidden();

const isOperator = role('operator');
const isService = role('service');
const isStaff = role('staff');
const isPerson = role('staff', 'patient');
const isStaffOrService = role('staff', 'service');

export const permissionMap = {
  Query: {
    me: authenticated,
    channels: isPerson,
    channel: isPerson,
    message: isPerson,
    messageSearch: isPerson,
    badgeCount: isPerson,
    // MESSAGING_ADMIN is checked by the service.
    auditEvents: isStaff,
    accessLog: isPerson,
    responsesDue: isStaff,
    activationRules: isStaffOrService,
    patient: isPerson,
    messagingSettings: isStaffOrService,
    // MESSAGING_ADMIN is checked by the service.
    unstaffedChannels: isStaff,
    incomingConversations: isStaff,
    roleGroups: isStaffOrService,
    messageTemplates: isStaff,
    notificationPreferences: isPerson,
    webPushPublicKey: isPerson,
    // MESSAGING_ADMIN is checked by the service.
    notificationTemplates: isStaff,
    chartDocuments: isStaffOrService,
    patientMessages: isStaff,
    clinicDirectory: isStaff,
    // Who answers patients or MESSAGING_ADMIN for INCOMING: checked by the service.
    handovers: isStaff,
    // MESSAGING_ADMIN (staff) is checked by the service.
    webhookEndpoints: isStaffOrService,
    webhookDeliveries: isStaffOrService,
  },
  Mutation: {
    organisationCreate: isOperator,
    teamMemberUpsert: isService,
    teamMemberArchive: isService,
    patientUpsert: isService,
    channelActivate: isStaff,
    channelJoin: isStaff,
    directChannelOpen: isStaff,
    groupChannelCreate: isStaff,
    channelMembersAdd: isStaff,
    activationRuleUpdate: isStaff,
    channelLeave: isPerson,
    channelArchive: isPerson,
    channelUnarchive: isPerson,
    channelMarkRead: isPerson,
    channelMemberRemove: isStaff,
    typingStart: isPerson,
    messageSend: isPerson,
    messageEdit: isPerson,
    messageDelete: isPerson,
    reactionAdd: isPerson,
    reactionRemove: isPerson,
    // Services upload chart documents' files (purpose CHART_DOCUMENT), people everything else.
    attachmentCreateUpload: role('staff', 'patient', 'service'),
    chartDocumentRegister: isService,
    chartDocumentUpdate: isService,
    chartDocumentWithdraw: isService,
    clinicConversationStart: isStaff,
    conversationHandover: isStaff,
    handoverAccept: isStaff,
    handoverDecline: isStaff,
    // MESSAGING_ADMIN is checked by the service.
    messageTemplateCreate: isStaff,
    messageTemplateUpdate: isStaff,
    messageTemplateDelete: isStaff,
    messagingSettingsUpdate: isStaff,
    conversationStart: isPerson,
    conversationClose: isStaff,
    conversationReopen: isStaff,
    conversationUpdate: isStaff,
    channelMute: isPerson,
    channelUnmute: isPerson,
    profileUpdate: isPerson,
    notificationPreferencesUpdate: isPerson,
    pushSubscriptionRegister: isPerson,
    pushSubscriptionRemove: isPerson,
    // MESSAGING_ADMIN is checked by the service.
    notificationTemplateUpdate: isStaff,
    notificationTemplateReset: isStaff,
    // MESSAGING_ADMIN (staff) is checked by the service.
    webhookEndpointCreate: isStaffOrService,
    webhookEndpointUpdate: isStaffOrService,
    webhookEndpointDelete: isStaffOrService,
    webhookEndpointRotateSecret: isStaffOrService,
    webhookDeliveryReplay: isStaffOrService,
  },
  // Subscriptions also authorize in their subscribe function (the guard wraps resolve, not subscribe).
  Subscription: {
    channelEvents: isPerson,
    inboxEvents: isPerson,
    typing: isPerson,
  },
  // Object types: reaching one already passed an operation rule above; what each field shows is
  // decided by the presenters (field resolvers) and the services' row checks.
  Organisation: allow,
  TeamMember: allow,
  Patient: allow,
  ServiceClient: allow,
  Operator: allow,
  Channel: allow,
  ChannelMember: allow,
  ChannelMembership: allow,
  ChannelEdge: allow,
  ChannelConnection: allow,
  IncomingConversation: allow,
  IncomingConversationEdge: allow,
  IncomingConversationConnection: allow,
  ChannelMemberEdge: allow,
  ChannelMemberConnection: allow,
  Message: allow,
  MessageEdge: allow,
  MessageConnection: allow,
  ChannelEvent: allow,
  InboxEvent: allow,
  AuditEvent: allow,
  AccessLogEntry: allow,
  ActivationRule: allow,
  ActivationRuleUpdatePayload: allow,
  AuditEventEdge: allow,
  AuditEventConnection: allow,
  AccessLogEntryEdge: allow,
  AccessLogEntryConnection: allow,
  // Reached only through responsesDue (staff); channel and message resolve through their own checks.
  ResponseDue: allow,
  ResponseDueEdge: allow,
  ResponseDueConnection: allow,
  WebhookEndpoint: allow,
  WebhookDelivery: allow,
  WebhookDeliveryEdge: allow,
  WebhookDeliveryConnection: allow,
  WebhookEndpointPayload: allow,
  WebhookDeliveryPayload: allow,
  TypingEvent: allow,
  PageInfo: allow,
  UserError: allow,
  OrganisationCreatePayload: allow,
  TeamMemberUpsertPayload: allow,
  PatientUpsertPayload: allow,
  ChannelActivatePayload: allow,
  ChannelJoinPayload: allow,
  MessageSendPayload: allow,
  TeamMemberArchivePayload: allow,
  ChannelLeavePayload: allow,
  DirectChannelOpenPayload: allow,
  GroupChannelCreatePayload: allow,
  ChannelMembersAddPayload: allow,
  ChannelArchivePayload: allow,
  ChannelMarkReadPayload: allow,
  ChannelMemberRemovePayload: allow,
  TypingStartPayload: allow,
  MessagingSettings: allow,
  MessagingSettingsUpdatePayload: allow,
  ConversationStartPayload: allow,
  ConversationChangePayload: allow,
  ConversationClosePayload: allow,
  ChannelMutePayload: allow,
  ProfileUpdatePayload: allow,
  MessageRevision: allow,
  MessageChangePayload: allow,
  Reaction: allow,
  ReactionPayload: allow,
  Attachment: allow,
  AttachmentCreateUploadPayload: allow,
  ChartDocument: allow,
  ChartDocumentEdge: allow,
  ChartDocumentConnection: allow,
  ChartDocumentPayload: allow,
  Clinic: allow,
  ClinicEdge: allow,
  ClinicConnection: allow,
  OtherClinicAuthor: allow,
  Handover: allow,
  HandoverEdge: allow,
  HandoverConnection: allow,
  HandoverConsent: allow,
  HandoverTranscriptMessage: allow,
  HandoverPayload: allow,
  MessageTemplate: allow,
  MessageTemplatePayload: allow,
  OpeningHours: allow,
  NotificationPreferences: allow,
  NotificationPreferencesUpdatePayload: allow,
  PushSubscription: allow,
  PushSubscriptionPayload: allow,
  NotificationTemplate: allow,
  NotificationTemplatePayload: allow,
};
