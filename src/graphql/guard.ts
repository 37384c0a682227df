import { GraphQLError, defaultFieldResolver, isIntrospectionType, isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import type { Context } from './context';
import { permissionMap, type Rule } from './permissions';
import { auditRootField } from '../modules/audit/audit-recorder';
import { ApiErrorCode, EXPOSED_CODES, RateLimitedError, UserErrorCode, apiError } from '../errors';
import { unsafeTextIn } from '../common/validation';

const ROOTS = ['Query', 'Mutation', 'Subscription'] as const;
type RootName = (typeof ROOTS)[number];
const rules = permissionMap as unknown as Record<string, Record<string, Rule> | Rule>;

/** Expected errors keep their code; anything else is logged and leaves as a bare INTERNAL_SERVER_ERROR. */
function masked(error: unknown, context: Context, onInternalError: (error: unknown, context: Context) => void): GraphQLError {
  if (error instanceof GraphQLError && EXPOSED_CODES.has(String(error.extensions?.code))) return error;
  if (error instanceof RateLimitedError) return new GraphQLError(error.message, { extensions: { code: ApiErrorCode.RATE_LIMITED, retryAfterSeconds: error.retryAfterSeconds } });
  onInternalError(error, context);
  return apiError(ApiErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error.');
}

/**
 * The executable schema's wall, applied to root fields only (where every operation enters): each
 * query and mutation field is audited (audit-recorder.ts) around its permission rule and
 * resolver, each subscription field's results pass its rule, and unexpected errors are masked.
 * Fields of object types run bare: reaching them passed a root rule, and what they show is the
 * presenters' and the policy layer's. Building fails if any operation or object type has no entry
 * in the permission map, so nothing new is reachable by default.
 */
export function guardSchema(schema: GraphQLSchema, onInternalError: (error: unknown, context: Context) => void): GraphQLSchema {
  assertCovered(schema);
  const guardRoot = (rootName: RootName, fieldName: string, resolve: GraphQLFieldResolver<unknown, Context>) => {
    const rule = (rules[rootName] as Record<string, Rule>)[fieldName];
    const guarded: GraphQLFieldResolver<unknown, Context> = async (source, args, context, info) => {
      const refused = rule(context);
      if (refused !== true) throw refused;
      const unsafe = unsafeTextIn(args);
      if (unsafe) {
        const message = `\`${unsafe.join('.')}\` contains a control character or is not valid UTF-8 text.`;
        // Every mutation answers a payload: the refusal is one of its userErrors, naming the field.
        if (rootName === 'Mutation') return { userErrors: [{ code: UserErrorCode.INVALID_INPUT, field: unsafe.join('.'), message }] };
        throw apiError(ApiErrorCode.BAD_USER_INPUT, message);
      }
      try {
        const result = await resolve(source, args, context, info);
        // A payload shows related objects as they are after the change (a thread's replyCount, a
        // channel's lastMessage): what was read before it is dropped, and read again if selected.
        if (rootName === 'Mutation') context.reset();
        return result;
      } catch (error) {
        throw masked(error, context, onInternalError);
      }
    };
    return rootName === 'Subscription' ? guarded : auditRootField(guarded);
  };
  return mapSchema(schema, {
    [MapperKind.ROOT_FIELD]: (fieldConfig, fieldName, typeName) => ({
      ...fieldConfig,
      resolve: guardRoot(typeName as RootName, fieldName, (fieldConfig.resolve ?? defaultFieldResolver) as GraphQLFieldResolver<unknown, Context>),
      // A subscription's stream opens before its first result is resolved: its arguments are checked there too.
      ...(fieldConfig.subscribe ? { subscribe: checkedArguments(fieldConfig.subscribe as GraphQLFieldResolver<unknown, Context>) } : {}),
    }),
  });
}

/** Refuses text no field accepts (control characters, unpaired surrogates) before `next` runs. */
function checkedArguments(next: GraphQLFieldResolver<unknown, Context>): GraphQLFieldResolver<unknown, Context> {
  return (source, args, context, info) => {
    const unsafe = unsafeTextIn(args);
    if (unsafe) throw apiError(ApiErrorCode.BAD_USER_INPUT, `\`${unsafe.join('.')}\` contains a control character or is not valid UTF-8 text.`);
    return next(source, args, context, info);
  };
}

function assertCovered(schema: GraphQLSchema): void {
  const missing: string[] = [];
  const roots = { Query: schema.getQueryType(), Mutation: schema.getMutationType(), Subscription: schema.getSubscriptionType() };
  for (const rootName of ROOTS) {
    const root = roots[rootName];
    const map = rules[rootName] as Record<string, Rule> | undefined;
    for (const field of Object.keys(root?.getFields() ?? {})) if (typeof map?.[field] !== 'function') missing.push(`${rootName}.${field}`);
  }
  for (const type of Object.values(schema.getTypeMap())) {
    if (isObjectType(type) && !isIntrospectionType(type) && !(ROOTS as readonly string[]).includes(type.name) && typeof rules[type.name] !== 'function') missing.push(type.name);
  }
  if (missing.length > 0) throw new Error(`No permission rule for: ${missing.join(', ')}`);
}
