import { ArgsType, Field, Int } from 'type-graphql';
import { z } from 'zod';
import { apiError, ApiErrorCode } from '../errors';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;

@ArgsType()
export class ForwardPageArgs {
  @Field(() => Int, { nullable: true, description: `How many items to return (1-${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}).` })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'Return items after this cursor.' })
  after?: string | null;
}

@ArgsType()
export class BidirectionalPageArgs extends ForwardPageArgs {
  @Field(() => Int, { nullable: true, description: `How many of the newest items (before \`before\`) to return (1-${MAX_PAGE_SIZE}).` })
  last?: number | null;

  @Field(() => String, { nullable: true, description: 'Return items before this cursor.' })
  before?: string | null;
}

export type PageRequest =
  | { direction: 'forward'; limit: number; after?: string }
  | { direction: 'backward'; limit: number; before?: string };

const size = z.number().int().min(1).max(MAX_PAGE_SIZE);

/** Checks Relay arguments: `first`/`after` or `last`/`before`, never both directions. */
export function pageRequest(args: Partial<BidirectionalPageArgs>): PageRequest {
  const forward = args.first != null || args.after != null;
  const backward = args.last != null || args.before != null;
  if (forward && backward) throw apiError(ApiErrorCode.BAD_USER_INPUT, 'Use first/after or last/before, not both.');
  const limit = (forward ? args.first : args.last) ?? DEFAULT_PAGE_SIZE;
  if (!size.safeParse(limit).success) throw apiError(ApiErrorCode.BAD_USER_INPUT, `Page size must be between 1 and ${MAX_PAGE_SIZE}.`);
  return backward ? { direction: 'backward', limit, before: args.before ?? undefined } : { direction: 'forward', limit, after: args.after ?? undefined };
}
