import { GraphQLError, getOperationAST, type DocumentNode, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { getArgumentValues } from 'graphql/execution/values';

import type { Context } from '../../graphql/context';
import type { Actor } from '../../auth/actor';
import type { AuditRecord } from './audit-log';

export type AuditOutcome = 'ALLOWED' | 'REJECTED' | 'DENIED' | 'FAILED';

/** Codes that mean the caller was refused (as opposed to bad input or a server fault). */
const DENIED_CODES = new Set(['FORBIDDEN', 'UNAUTHENTICATED', 'NOT_FOUND', 'ACCESS_REVOKED']);
/** Argument names that identify what an operation is about, most specific first. */
const TARGET_KEYS: Array<[string, string]> = [
  ['messageId', 'message'],
  ['memberId', 'channel_member'],
  ['channelId', 'channel'],
  ['patientId', 'patient'],
  ['teamMemberId', 'team_member'],
];
/** What `id` names for root fields that take one. */
const ID_TARGETS: Record<string, string> = { channel: 'channel', message: 'message', patient: 'patient' };

export interface AuditEntry {
  action: string;
  args: Record<string, unknown>;
  outcome: AuditOutcome;
  errorCode?: string;
  /** For actors without an organisation (operators): the organisation the action concerned. */
  organisationId?: string;
}

/** The id as the caller gave it, without control characters (PostgreSQL text refuses NUL; a log line should not break). */
export const recordedId = (value: string) => value.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 100);

function targetOf(action: string, args: Record<string, unknown>): { type: string; id: string } | undefined {
  const input = (typeof args.input === 'object' && args.input !== null ? args.input : args) as Record<string, unknown>;
  for (const [key, type] of TARGET_KEYS) if (typeof input[key] === 'string') return { type, id: recordedId(String(input[key])) };
  const field = action.split('.')[1];
  if (typeof args.id === 'string' && ID_TARGETS[field]) return { type: ID_TARGETS[field], id: recordedId(args.id) };
  return undefined;
}

export const actorId = (actor: Actor) =>
  actor.kind === 'staff' ? actor.teamMemberId : actor.kind === 'patient' ? actor.patientId : actor.kind === 'service' ? actor.clientId : actor.operatorId;

/** The record of an entry by the caller; undefined when there is no organisation to file it under. */
function recordOf(context: Context, entry: AuditEntry): AuditRecord | undefined {
  const { actor } = context;
  if (!actor) return undefined;
  const organisationId = actor.kind === 'operator' ? entry.organisationId : actor.organisationId;
  const target = targetOf(entry.action, entry.args);
  return {
    organisationId: organisationId ?? '',
    actorKind: actor.kind,
    actorId: actorId(actor),
    requestId: context.requestId,
    clientRequestId: context.clientRequestId ?? null,
    action: entry.action,
    targetType: target?.type ?? null,
    targetId: target?.id ?? null,
    outcome: entry.outcome,
    errorCode: entry.errorCode ?? null,
    occurredAt: new Date(),
  };
}

/**
 * Appends one audit record through the batched log (reads, and attempts that changed nothing):
 * it waits only when the log's queue is full.
 */
export async function recordAudit(context: Context, entry: AuditEntry): Promise<void> {
  const record = recordOf(context, entry);
  if (!record?.organisationId) return;
  await context.deps.auditLog.record(record);
}

const codeOf = (error: unknown) => (error instanceof GraphQLError ? String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR') : 'INTERNAL_SERVER_ERROR');

/**
 * Records every query and mutation root field: who, what, on what, and how it ended. A mutation's
 * record of a change is written in the change's own transaction (AuditTrail); everything else
 * (reads, refusals, rejections, changes of nothing) goes through the batched log. It wraps the
 * permission rule, so refused attempts are recorded too.
 */
export function auditRootField(resolve: GraphQLFieldResolver<unknown, Context>): GraphQLFieldResolver<unknown, Context> {
  return async (root, args, context, info) => {
    const action = `${info.parentType.name}.${info.fieldName}`;
    const mutation = info.parentType.name === 'Mutation';
    if (mutation) context.audit.begin(recordOf(context, { action, args, outcome: 'ALLOWED' }));
    try {
      const result = await resolve(root, args, context, info);
      const userErrors = (result as { userErrors?: Array<{ code: string }> } | null)?.userErrors;
      const code = userErrors?.[0]?.code;
      if (mutation && !code && context.audit.written) return result;
      const created = (result as { organisation?: { id?: string } } | null)?.organisation?.id;
      // A lookup by id that found nothing the caller may see was a probe: NOT_FOUND, whether the row is hidden or absent.
      const probe = !mutation && result == null && typeof args.id === 'string' && ID_TARGETS[info.fieldName] !== undefined;
      const outcome = probe ? 'DENIED' : code ? (DENIED_CODES.has(code) ? 'DENIED' : 'REJECTED') : 'ALLOWED';
      await recordAudit(context, { action, args, outcome, errorCode: probe ? 'NOT_FOUND' : code, organisationId: created });
      return result;
    } catch (error) {
      await recordFailure(context, action, args, error);
      throw error;
    } finally {
      if (mutation) context.audit.begin(undefined);
    }
  };
}

function recordFailure(context: Context, action: string, args: Record<string, unknown>, error: unknown): Promise<void> {
  const code = codeOf(error);
  return recordAudit(context, { action, args, outcome: DENIED_CODES.has(code) ? 'DENIED' : 'FAILED', errorCode: code });
}

/** Records a subscription once, when it starts (or is refused); its events are not each recorded. */
export async function auditSubscription(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  context: Context,
  error?: GraphQLError,
  operationName?: string | null,
): Promise<void> {
  const operation = getOperationAST(document, operationName);
  // A query over the socket is recorded by its root field, as over HTTP: once.
  if (operation?.operation !== 'subscription') return;
  const field = operation?.selectionSet.selections.find((selection) => selection.kind === 'Field');
  if (!field || field.kind !== 'Field') return;
  const definition = schema.getSubscriptionType()?.getFields()[field.name.value];
  let args: Record<string, unknown> = {};
  try {
    if (definition) args = getArgumentValues(definition, field, variables ?? {});
  } catch {
    // Invalid variables were refused by validation already.
  }
  const action = `Subscription.${field.name.value}`;
  await (error ? recordFailure(context, action, args, error) : recordAudit(context, { action, args, outcome: 'ALLOWED' }));
}

/**
 * Records that an operation read messages of a channel (a page of it, a thread, search results),
 * besides the root field that reached them: who read which conversation. Not for each event of a
 * subscription (the subscription's start is recorded).
 */
export function recordMessagesRead(context: Context, info: { operation: { operation: string } }, via: string, channelIds: Iterable<string>): Promise<void> {
  if (info.operation.operation === 'subscription') return Promise.resolve();
  return Promise.all([...new Set(channelIds)].map((channelId) => recordAudit(context, { action: via, args: { channelId }, outcome: 'ALLOWED' }))).then(() => undefined);
}
