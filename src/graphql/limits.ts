import { GraphQLError, NoSchemaIntrospectionCustomRule, ValidationContext, specifiedRules, type ValidationRule } from 'graphql';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import type { Config } from '../config';

/** Validation rules added to GraphQL's own, for HTTP and WebSocket alike (cost is in cost.ts: it needs variables). */
export function limitRules(limits: Config['limits']): ValidationRule[] {
  // Report as ordinary validation errors (GRAPHQL_VALIDATION_FAILED) instead of throwing, without the
  // "Syntax Error: " graphql-armor puts before every message: the document parsed; it is over a limit.
  const report = {
    propagateOnRejection: false,
    onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, '')))],
  };
  return [
    // Depth counts levels of data: fragment spreads and inline fragments add none (codegen and
    // data masking compose queries from fragments; the same fields inline have the same depth).
    maxDepthRule({ n: limits.maxDepth, ignoreIntrospection: true, exposeLimits: true, flattenFragments: true, ...report }),
    maxAliasesRule({ n: limits.maxAliases, exposeLimits: true, ...report }),
    maxDirectivesRule({ n: limits.maxDirectives, exposeLimits: true, ...report }),
  ] as ValidationRule[];
}

/** Limits, and no introspection unless the Sandbox is on (as in development). */
export function extraValidationRules(config: Pick<Config, 'limits' | 'sandbox'>): ValidationRule[] {
  return [...limitRules(config.limits), ...(config.sandbox ? [] : [NoSchemaIntrospectionCustomRule])];
}

/**
 * How documents are parsed on both transports: parsing stops at the token limit, so an oversized
 * document (thousands of directives, variables or fields) costs next to nothing before it is refused.
 */
export const parseOptions = (limits: Config['limits']) => ({ maxTokens: limits.maxTokens });

/** A document longer than the limit, refused before it is hashed or parsed (undefined: within it). */
export function oversizedDocument(query: unknown, limits: Config['limits']): GraphQLError | undefined {
  if (typeof query !== 'string' || query.length <= limits.maxQueryChars) return undefined;
  return new GraphQLError(`The document is longer than ${limits.maxQueryChars} characters.`, { extensions: { code: 'GRAPHQL_PARSE_FAILED', http: { status: 400 } } });
}

export function allValidationRules(config: Pick<Config, 'limits' | 'sandbox'>): ValidationRule[] {
  return [...specifiedRules, ...extraValidationRules(config)];
}
