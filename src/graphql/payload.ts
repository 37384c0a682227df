import { UserError, UserErrors } from '../errors';
import type { MutationPayload } from '../common/graphql-types';

/**
 * Runs a mutation's use case and wraps its result in the payload type under `key`; expected
 * failures (UserError) become `userErrors`, anything else propagates as a masked error.
 */
export async function mutationPayload<P extends MutationPayload, K extends keyof P>(
  Payload: new () => P,
  key: K,
  run: () => Promise<P[K]>,
): Promise<P> {
  const payload = new Payload();
  try {
    payload[key] = await run();
  } catch (error) {
    const errors = error instanceof UserErrors ? error.errors : error instanceof UserError ? [error] : undefined;
    if (!errors) throw error;
    payload.userErrors = errors.map(({ code, field, message }) => ({ code, field: field ?? null, message }));
  }
  return payload;
}
