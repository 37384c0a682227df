import { GraphQLError } from 'graphql';
import { allow, rule, shield } from 'graphql-shield';
import type { Context } from './context';
import { EXPOSED_CODES, forbidden, unauthenticated, apiError, ApiErrorCode } from '../errors';

/**
 * Who may call each operation. Rows and fields are checked again in the services and
 * presenters; this map is the first wall. Anything not listed is denied.
 */
const authenticated = rule({ cache: 'no_cache' })((_parent, _args, { actor }: Context) => (actor ? true : unauthenticated()));
const role = (...kinds: string[]) =>
  rule({ cache: 'no_cache' })((_parent, _args, { actor }: Context) => (!actor ? unauthenticated() : kinds.includes(actor.kind) ? true : forbidden()));

const isOperator = role('operator');
const isService = role('service');
const isStaff = role('staff');
const isPerson = role('staff', 'patient');
const isPatient = role('patient');
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
    activationRules: isStaffOrService,
    patient: isPerson,
    messagingSettings: isStaffOrService,
    // MESSAGING_ADMIN is checked by the service.
    unstaffedChannels: isStaff,
    messageTemplates: isStaff,
    notificationPreferences: isPerson,
    webPushPublicKey: isPerson,
    // MESSAGING_ADMIN is checked by the service.
    notificationTemplates: isStaff,
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
    attachmentCreateUpload: isPerson,
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
    profileUpdate: isPatient,
    notificationPreferencesUpdate: isPerson,
    pushSubscriptionRegister: isPerson,
    pushSubscriptionRemove: isPerson,
    // MESSAGING_ADMIN is checked by the service.
    notificationTemplateUpdate: isStaff,
    notificationTemplateReset: isStaff,
  },
  // Subscriptions also authorize in their subscribe function (shield only wraps resolve).
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
  ChannelMemberEdge: allow,
  ChannelMemberConnection: allow,
  Message: allow,
  MessageEdge: allow,
  MessageConnection: allow,
  ChannelEvent: allow,
  InboxEvent: allow,
  AuditEvent: allow,
  ActivationRule: allow,
  ActivationRuleUpdatePayload: allow,
  AuditEventEdge: allow,
  AuditEventConnection: allow,
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

export function createPermissions(onInternalError: (error: unknown, context: Context) => void) {
  return shield(permissionMap, {
    fallbackRule: rule({ cache: 'no_cache' })(() => forbidden()),
    allowExternalErrors: false,
    // Errors thrown by resolvers come here: expected ones keep their code, the rest are masked.
    fallbackError: (thrown, _parent, _args, context) => {
      if (thrown === null) return forbidden();
      if (thrown instanceof GraphQLError && EXPOSED_CODES.has(String(thrown.extensions?.code))) return thrown;
      onInternalError(thrown, context as unknown as Context);
      return apiError(ApiErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error.');
    },
  });
}
