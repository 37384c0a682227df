import { GraphQLError } from 'graphql';

/**
 * Codes of expected failures, returned in a mutation payload's `userErrors` (nothing was changed).
 * One list for the whole API so clients can switch on them.
 */
export enum UserErrorCode {
  /** A field failed validation (see `field` and `message`). */
  INVALID_INPUT = 'INVALID_INPUT',
  /** The target does not exist or the caller may not see it (indistinguishable by design). */
  NOT_FOUND = 'NOT_FOUND',
  /** The caller may see the target but not do this to it. */
  FORBIDDEN = 'FORBIDDEN',
  /** A message body is longer than the configured limit. */
  BODY_TOO_LONG = 'BODY_TOO_LONG',
  /** An organisation with this slug already exists. */
  SLUG_TAKEN = 'SLUG_TAKEN',
  /** The channel kind cannot be activated this way. */
  UNSUPPORTED_CHANNEL_KIND = 'UNSUPPORTED_CHANNEL_KIND',
  /** The channel is closed to new messages. */
  CHANNEL_CLOSED = 'CHANNEL_CLOSED',
  /** A patient channel must keep at least one team member. */
  LAST_TEAM_MEMBER = 'LAST_TEAM_MEMBER',
  /** The patient of a care-team, service-team or conversation channel cannot leave it or be removed. */
  PATIENT_CANNOT_LEAVE = 'PATIENT_CANNOT_LEAVE',
  /** The organisation's settings do not let the caller start a conversation. */
  NOT_ALLOWED_TO_START = 'NOT_ALLOWED_TO_START',
  /** A precondition for messaging the patient fails (staff are told which). */
  PATIENT_NOT_MESSAGEABLE = 'PATIENT_NOT_MESSAGEABLE',
  /** Staff turned off patient replies in this conversation. */
  REPLIES_NOT_ALLOWED = 'REPLIES_NOT_ALLOWED',
  /** An idempotency key this sender already used, with different content. */
  IDEMPOTENCY_KEY_REUSED = 'IDEMPOTENCY_KEY_REUSED',
  /** Threads are one level deep: a reply cannot have replies. */
  REPLY_TO_REPLY = 'REPLY_TO_REPLY',
  /** The message was deleted; it cannot be edited or reacted to. */
  MESSAGE_DELETED = 'MESSAGE_DELETED',
  /** A reaction that is not exactly one emoji. */
  INVALID_EMOJI = 'INVALID_EMOJI',
  /** A file type that is not accepted (here, or from patients by this organisation). */
  UNSUPPORTED_FILE_TYPE = 'UNSUPPORTED_FILE_TYPE',
  /** A file over the size limit. */
  FILE_TOO_LARGE = 'FILE_TOO_LARGE',
  /** This server is not set up to send that kind of push notification. */
  PUSH_NOT_CONFIGURED = 'PUSH_NOT_CONFIGURED',
  /** Too many of these in a short time (per person, organisation or address): try again after `retryAfterSeconds`. */
  RATE_LIMITED = 'RATE_LIMITED',
  /** A chart document attached outside its own patient's channels (the message names the rule). */
  CHART_DOCUMENT_WRONG_CHANNEL = 'CHART_DOCUMENT_WRONG_CHANNEL',
  /** The chart document was withdrawn: it cannot be attached or changed any more. */
  CHART_DOCUMENT_WITHDRAWN = 'CHART_DOCUMENT_WITHDRAWN',
  /** An external id already used for something else in this organisation. */
  EXTERNAL_ID_TAKEN = 'EXTERNAL_ID_TAKEN',
  /** A webhook URL that is not https (in production) or does not reach a public address. */
  WEBHOOK_URL_REFUSED = 'WEBHOOK_URL_REFUSED',
  /** A patient marked a message URGENT where the settings do not let patients do so. */
  URGENCY_NOT_ALLOWED = 'URGENCY_NOT_ALLOWED',
}

/** Thrown by services for an expected failure; resolvers turn it into `userErrors`. */
export class UserError extends Error {
  constructor(
    readonly code: UserErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** An abuse limit was reached: a userError in a mutation's payload, an error with code RATE_LIMITED elsewhere. */
export class RateLimitedError extends UserError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(UserErrorCode.RATE_LIMITED, message);
  }
}

export class UserErrors extends Error {
  constructor(readonly errors: UserError[]) {
    super(errors.map((error) => error.message).join('; '));
  }
}

/** Codes of top-level GraphQL errors (`extensions.code`). */
export enum ApiErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  NOT_FOUND = 'NOT_FOUND',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  /** A resume cursor that is malformed, forged, or of another channel or person. */
  CURSOR_INVALID = 'CURSOR_INVALID',
  /** A resume cursor older than the event log's retention: refetch the current state, then subscribe without `after`. */
  CURSOR_EXPIRED = 'CURSOR_EXPIRED',
  /** A live stream ended because the caller lost access (removed from the channel). */
  ACCESS_REVOKED = 'ACCESS_REVOKED',
  /** Too many subscriptions on one connection. */
  TOO_MANY_SUBSCRIPTIONS = 'TOO_MANY_SUBSCRIPTIONS',
  /** The operation asks for more items than the cost limit allows (page sizes multiply). */
  QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX',
  /** An abuse limit was reached; `extensions.retryAfterSeconds` says when to try again. */
  RATE_LIMITED = 'RATE_LIMITED',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
}

/** Codes whose errors are shown to clients as they are; anything else is masked. */
export const EXPOSED_CODES: ReadonlySet<string> = new Set([
  ...Object.values(ApiErrorCode),
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

export function apiError(code: ApiErrorCode, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

export const unauthenticated = () => apiError(ApiErrorCode.UNAUTHENTICATED, 'A valid bearer token is required.');
export const forbidden = () => apiError(ApiErrorCode.FORBIDDEN, 'You do not have permission to do this.');
export const notFound = (what = 'The requested item') => apiError(ApiErrorCode.NOT_FOUND, `${what} was not found.`);
