import { RateLimitedError, UserError, UserErrors } from '../errors';
import type { MutationPayload } from '../common/graphql-types';

/**
 * Runs a mutation's use case and fills its payload with the fields it returns; expected failures
 * (UserError) become `userErrors`, anything else propagates as a masked error.
 */
export async function mutationPayloadOf<P extends MutationPayload>(Payload: new () => P, run: () => Promise<Partial<P>>): Promise<P> {
  const payload = new Payload();
  try {
    Object.assign(payload, await run());
  } catch (error) {
    const errors = error instanceof UserErrors ? error.errors : error instanceof UserError ? [error] : undefined;
    if (!errors) throw error;
    payload.userErrors = errors.map((error) => ({
      code: error.code,
      field: error.field ?? null,
      message: error.message,
      retryAfterSeconds: error instanceof RateLimitedError ? error.retryAfterSeconds : null,
    }));
  }
  return payload;
}

/** The usual case: the use case returns the one changed object, held under `key`. */
export function mutationPayload<P extends MutationPayload, K extends keyof P>(Payload: new () => P, key: K, run: () => Promise<P[K]>): Promise<P> {
  return mutationPayloadOf(Payload, async () => ({ [key]: await run() }) as unknown as Partial<P>);
}
