import 'reflect-metadata';
import { isUnionType, lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchemaSync, getMetadataStorage } from 'type-graphql';
import { OrganisationResolver } from '../modules/organisations/organisation.graphql';
import { MeResolver } from '../modules/directory/me.graphql';
import { RoleGroupResolver, TeamMemberFieldResolver } from '../modules/directory/team-member.graphql';
import { PatientResolver } from '../modules/directory/patient.graphql';
import { DirectorySyncResolver } from '../modules/directory/directory-sync.graphql';
import { ProfileResolver } from '../modules/directory/profile.graphql';
import { ChannelResolver } from '../modules/channels/channel.graphql';
import { ChannelMemberFieldResolver, ChannelMembershipFieldResolver, ChannelMembershipResolver } from '../modules/channels/channel-membership.graphql';
import { MessageChannelFieldResolver } from '../modules/channels/message-channel.graphql';
import { PatientChannelsFieldResolver } from '../modules/channels/patient-channels.graphql';
import { ConversationResolver, IncomingConversationResolver } from '../modules/channels/conversation.graphql';
import { MessagingSettingsResolver } from '../modules/settings/messaging-settings.graphql';
import { AttachmentResolver } from '../modules/attachments/attachment.graphql';
import { AttachmentChartFieldResolver, ChartDocumentResolver } from '../modules/chart/chart-document.graphql';
import { ClinicChannelFieldResolver, ClinicResolver } from '../modules/clinics/clinic.graphql';
import { HandoverResolver } from '../modules/clinics/handover.graphql';
import { MessageTemplateResolver } from '../modules/templates/template.graphql';
import { NotificationResolver } from '../modules/notifications/notification.graphql';
import { MessageResolver } from '../modules/messages/message.graphql';
import { ChannelEventResolver } from '../realtime/channel-event.graphql';
import { InboxEventResolver } from '../realtime/inbox-event.graphql';
import { TypingResolver } from '../realtime/typing.graphql';
import { AuditResolver } from '../modules/audit/audit.graphql';
import { WebhookResolver } from '../modules/webhooks/webhook.graphql';
import { AccessLogResolver } from '../modules/audit/access-log.graphql';
import { ResponsesDueResolver } from '../modules/escalation/escalation.graphql';
import { TeamChannelResolver } from '../modules/channels/team-channels.graphql';
import { ActivationRuleResolver } from '../modules/channels/activation-rules.graphql';
import { guardSchema } from './guard';
import type { Context } from './context';

const resolvers = [
  OrganisationResolver,
  MeResolver,
  TeamMemberFieldResolver,
  RoleGroupResolver,
  PatientResolver,
  DirectorySyncResolver,
  ProfileResolver,
  ChannelResolver,
  ChannelMembershipResolver,
  ChannelMemberFieldResolver,
  ChannelMembershipFieldResolver,
  MessageChannelFieldResolver,
  MessageResolver,
  ChannelEventResolver,
  InboxEventResolver,
  TypingResolver,
  AuditResolver,
  AccessLogResolver,
  ResponsesDueResolver,
  WebhookResolver,
  TeamChannelResolver,
  ActivationRuleResolver,
  PatientChannelsFieldResolver,
  ConversationResolver,
  IncomingConversationResolver,
  MessagingSettingsResolver,
  AttachmentResolver,
  ChartDocumentResolver,
  ClinicResolver,
  ClinicChannelFieldResolver,
  HandoverResolver,
  AttachmentChartFieldResolver,
  MessageTemplateResolver,
  NotificationResolver,
] as const;

let built: GraphQLSchema | undefined;

/** type-graphql insists on a PubSub; ours is unused because every subscription reads the event log. */
const unusedPubSub = {
  publish(): never {
    throw new Error('subscriptions read the channel event log, not type-graphql PubSub');
  },
  subscribe(): never {
    throw new Error('subscriptions read the channel event log, not type-graphql PubSub');
  },
};

/** The schema as the type-graphql classes declare it (the contract in schema.graphql). */
export function buildContractSchema(): GraphQLSchema {
  if (!built) {
    // No type-graphql middleware or auth checker is used (guard.ts wraps the operations), so a
    // plain field needs no resolver of its own: GraphQL's default reads the property, without
    // type-graphql's per-field wrapper (an allocation per field of every row of every page).
    for (const type of getMetadataStorage().objectTypes) type.simpleResolvers ??= true;
    built = buildSchemaSync({ resolvers, validate: false, emitSchemaFile: false, pubSub: unusedPubSub });
    resolveUnionsSynchronously(built);
    skipRootCopies();
  }
  return built;
}

/**
 * Before every field resolver, type-graphql copies the parent object into a new instance of the
 * type's class unless it already is one (so that the class's own methods and getters work on it):
 * a copy of every message row or person for each field resolver of a page. A type class that
 * declares fields only has nothing such a copy would add, so every object counts as one of its
 * instances (for `instanceof`, which nothing else applies to these classes).
 */
function skipRootCopies(): void {
  for (const { target } of getMetadataStorage().objectTypes) {
    const ownMembers = Object.getOwnPropertyNames(target.prototype).filter((name) => name !== 'constructor');
    if (ownMembers.length > 0 || Object.getPrototypeOf(target.prototype) !== Object.prototype) continue;
    Object.defineProperty(target, Symbol.hasInstance, { value: (value: unknown) => typeof value === 'object' && value !== null });
  }
}

/**
 * type-graphql wraps every union's resolveType in an async function, so every author of every
 * message on a page completes a promise later. Each union's own resolver is synchronous: called
 * directly, with the class it returns turned into its GraphQL type name.
 */
function resolveUnionsSynchronously(schema: GraphQLSchema): void {
  const storage = getMetadataStorage();
  const typeNameOf = (target: unknown) => storage.objectTypes.find((type) => type.target === target)?.name;
  for (const union of storage.unions) {
    const type = schema.getType(union.name);
    const own = union.resolveType;
    if (!isUnionType(type) || !own) continue;
    type.resolveType = (value, context, info, abstractType) => {
      const resolved = own(value, context, info, abstractType);
      if (resolved === undefined || typeof resolved === 'string') return resolved ?? undefined;
      if (typeof resolved === 'function') return typeNameOf(resolved);
      throw new Error(`union ${union.name}: its type resolver must be synchronous`);
    };
  }
}

/** The schema text committed as schema.graphql. */
export function printContractSchema(): string {
  return `${printSchema(lexicographicSortSchema(buildContractSchema()))}\n`;
}

/** The executable schema: the contract with the audit log and the permission rules around its operations. */
export function buildExecutableSchema(onInternalError: (error: unknown, context: Context) => void): GraphQLSchema {
  return guardSchema(buildContractSchema(), onInternalError);
}
