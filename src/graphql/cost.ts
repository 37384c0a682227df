import { GraphQLError, type DocumentNode, type GraphQLSchema } from 'graphql';
import { getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import { DEFAULT_PAGE_SIZE } from '../common/pagination';
import { ApiErrorCode } from '../errors';

/**
 * A list field (one with `first`/`last`) costs its page size times what each item selects, so
 * nested pages multiply: `channels(first: 100) { messages(first: 100) { … } }` costs 10,000 items.
 */
const pageSizeEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  if (!field.args.some((arg) => arg.name === 'first' || arg.name === 'last')) return undefined;
  const size = Number(args.first ?? args.last ?? DEFAULT_PAGE_SIZE);
  return 1 + Math.max(1, Number.isFinite(size) ? size : DEFAULT_PAGE_SIZE) * Math.max(1, childComplexity);
};

const estimators = [pageSizeEstimator, simpleEstimator({ defaultComplexity: 1 })];

/** Costs already computed, per parsed document (Apollo and graphql-ws reuse a document per query text) and variables. */
const known = new WeakMap<DocumentNode, Map<string, number>>();
const KNOWN_PER_DOCUMENT = 100;

/**
 * The error for an operation over the cost limit, or for variables that do not fit their types
 * (the cost is counted with them: BAD_USER_INPUT, as execution would say); undefined when it is fine.
 */
export function checkCost(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | undefined, operationName: string | null | undefined, maxCost: number): GraphQLError | undefined {
  let cost: number;
  try {
    cost = operationCost(schema, document, variables, operationName);
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    return new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: ApiErrorCode.BAD_USER_INPUT, http: { status: 400 } } });
  }
  return costError(cost, maxCost);
}

export function operationCost(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | undefined, operationName?: string | null): number {
  // Only page sizes (numbers) and @include/@skip conditions (booleans) change a cost.
  const shaping = Object.entries(variables ?? {}).filter(([, value]) => typeof value === 'number' || typeof value === 'boolean' || value === null);
  const key = `${operationName ?? ''}|${JSON.stringify(shaping)}`;
  let costs = known.get(document);
  const cached = costs?.get(key);
  if (cached !== undefined) return cached;
  const cost = getComplexity({ schema, query: document, variables: variables ?? {}, operationName: operationName ?? undefined, estimators });
  if (!costs) known.set(document, (costs = new Map()));
  if (costs.size >= KNOWN_PER_DOCUMENT) costs.delete(costs.keys().next().value!);
  costs.set(key, cost);
  return cost;
}

/** The error for an operation over the cost limit, or undefined when it is within it. */
export function costError(cost: number, maxCost: number): GraphQLError | undefined {
  if (cost <= maxCost) return undefined;
  return new GraphQLError(`Query cost ${cost} exceeds the limit of ${maxCost}; ask for smaller pages.`, {
    extensions: { code: ApiErrorCode.QUERY_TOO_COMPLEX, http: { status: 400 } },
  });
}
