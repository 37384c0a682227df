import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import { ApiErrorCode, EXPOSED_CODES } from '../errors';

/**
 * What leaves the server of an error: expected codes keep their message; anything else becomes
 * a bare INTERNAL_SERVER_ERROR (no stack, no SQL) and is logged here instead.
 */
export function maskError(formatted: GraphQLFormattedError, error: unknown, logger: Logger): GraphQLFormattedError {
  const code = String(formatted.extensions?.code ?? (error instanceof GraphQLError ? error.extensions?.code : ''));
  if (EXPOSED_CODES.has(code) && code !== ApiErrorCode.INTERNAL_SERVER_ERROR) {
    const retryAfterSeconds = formatted.extensions?.retryAfterSeconds;
    return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: typeof retryAfterSeconds === 'number' ? { code, retryAfterSeconds } : { code } };
  }
  if (code !== ApiErrorCode.INTERNAL_SERVER_ERROR || !(error instanceof GraphQLError && error.message === 'Internal server error.')) {
    logger.error({ err: error instanceof GraphQLError ? (error.originalError ?? error) : error }, 'internal error');
  }
  return { message: 'Internal server error.', path: formatted.path, extensions: { code: ApiErrorCode.INTERNAL_SERVER_ERROR } };
}
