import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { CloseCode } from 'graphql-ws';
import { GraphQLError, getOperationAST, parse, validate, type DocumentNode, type GraphQLSchema, type ParseOptions, type ValidationRule } from 'graphql';
import type { AppDeps } from '../graphql/context';
import { createContext } from '../graphql/context';
import { allValidationRules, oversizedDocument, parseOptions } from '../graphql/limits';
import { maskError } from '../graphql/errors';
import { createSharedSubscribe } from '../realtime/shared-execution';
import { checkCost } from '../graphql/cost';
import { AuthenticationError, bearerToken, type Authenticator } from '../auth/authenticate';
import type { Actor } from '../auth/actor';
import { randomUUID } from 'node:crypto';
import { UNTRUSTED_DOCUMENT, type TrustedDocuments } from './trusted-documents';
import { CLOSE_REVOKED } from '../realtime/live-hub';
import { TENANT_FILTER } from '../db/tenant';
import { auditSubscription, recordAudit } from '../modules/audit/audit-recorder';
import { recordRefusedToken } from '../modules/audit/refused-tokens';
import type { Context } from '../graphql/context';
import { RateLimitedError } from '../errors';
import type { LimitSubject } from '../modules/rate-limits/rate-limits';

interface ConnectionState {
  actor?: Actor;
  /** The connection's token: each operation takes the caller as the directory says they are now (roles, permissions). */
  token?: string;
  connectionId: string;
  expiryTimer?: NodeJS.Timeout;
  /** Counted in the sockets gauge (set up completely). */
  counted?: boolean;
  /** Ids of the operations running on this socket. */
  operations: Set<string>;
  unregister?: () => void;
  /** Aborted as soon as the server decides to close the socket: its streams stop reading at once. */
  closing: AbortController;
}

/**
 * Too many connections (per address or person): "try again later", which graphql-ws's client
 * retries with its backoff (it gives up at once on 4429); the reason says when.
 */
export const CLOSE_TOO_MANY = 1013;
/**
 * The token expired (while connected, or already when presented). Not one of graphql-ws's fatal
 * codes: its client reconnects by itself, calling `connectionParams` again (a function that
 * returns a fresh token) and subscribing again (from the cursors in the subscriptions' variables).
 */
export const CLOSE_TOKEN_EXPIRED = 4419;

/** The message of a RATE_LIMITED refusal of `consume`, or undefined when it went through. */
async function refusedBy(consume: () => Promise<void>): Promise<string | undefined> {
  try {
    await consume();
    return undefined;
  } catch (error) {
    if (error instanceof RateLimitedError) return `Too many connections; retry in ${error.retryAfterSeconds} s`;
    throw error;
  }
}

/** Standard WebSocket close code "try again later": the client reconnects and resumes with its cursors. */
export const CLOSE_SLOW_CONSUMER = 1013;

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Labels a request error the way Apollo does on HTTP, so both transports answer alike. */
function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, extensions: { code } });
}

/**
 * graphql-ws on the same path as HTTP. The token is checked once at connection_init; every
 * subscribe gets the same validation and limits as HTTP; the socket closes (4419) when the
 * token expires.
 */
export function attachWebSocketServer(httpServer: HttpServer, deps: AppDeps, schema: GraphQLSchema, authenticator: Authenticator, trusted?: TrustedDocuments) {
  const { config, logger } = deps;
  const documents = new CheckedDocuments(schema, allValidationRules(config), parseOptions(config.limits));
  const states = new WeakMap<object, ConnectionState>();
  const socketStates = new WeakMap<WebSocket, ConnectionState>();
  /** Closes a socket from the server side: streams stop first, the peer gets `code`, and a peer that never answers is cut off. */
  const closeConnection = (socket: WebSocket, code: number, reason: string) => {
    socketStates.get(socket)?.closing.abort();
    if (socket.readyState !== socket.OPEN) return;
    socket.close(code, reason);
    setTimeout(() => socket.terminate(), 10_000).unref();
  };
  const wsServer = new WebSocketServer({
    server: httpServer,
    path: '/graphql',
    maxPayload: config.limits.bodyBytes,
    verifyClient: ({ origin }: { origin?: string; req: IncomingMessage }) =>
      !config.allowedOrigins || !origin || config.allowedOrigins.includes(origin),
  });

  const disposable = useServer<Record<string, unknown> | undefined, { state?: ConnectionState }>(
    {
      connectionInitWaitTimeout: 5_000,
      // Each event executed once per group of subscribers who get the same result (visibility class).
      subscribe: createSharedSubscribe(),
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        const state: ConnectionState = { connectionId: randomUUID(), operations: new Set(), closing: new AbortController() };
        states.set(ctx.extra, state);
        socketStates.set(socket, state);
        // Failed authentications per address: past the limit, an address is refused before its token is
        // checked. Successful ones spend nothing here (many people share a proxy's or a hospital's address).
        const address: LimitSubject = { scope: 'address', id: ctx.extra.request.socket.remoteAddress ?? 'unknown' };
        const blocked = await deps.rateLimits.blocked('socketConnect', address);
        if (blocked !== undefined) {
          socket.close(CLOSE_TOO_MANY, `Too many failed connections; retry in ${blocked} s`);
          return false;
        }
        const failed = () => refusedBy(() => deps.rateLimits.consume('socketConnect', [address]));
        const token = bearerToken(ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization);
        if (!token) {
          await failed();
          socket.close(CloseCode.Unauthorized, 'Unauthorized');
          return false;
        }
        try {
          state.actor = await authenticator.authenticate(token);
          state.token = token;
        } catch (error) {
          if (!(error instanceof AuthenticationError)) {
            // Never let graphql-ws put an internal message into the close reason.
            logger.error({ err: error, connectionId: state.connectionId }, 'websocket authentication failed');
            socket.close(1011, 'Internal server error');
            return false;
          }
          logger.info({ connectionId: state.connectionId, reason: error.reason }, 'websocket token rejected');
          await failed();
          await recordRefusedToken(deps, token, error.reason, state.connectionId, address.id);
          if (error.reason === 'ERR_JWT_EXPIRED') socket.close(CLOSE_TOKEN_EXPIRED, 'Token expired');
          else socket.close(error.reason.startsWith('unknown') ? CloseCode.Forbidden : CloseCode.Unauthorized, error.reason.startsWith('unknown') ? 'Forbidden' : 'Unauthorized');
          return false;
        }
        // The socket may have closed while the token was checked: then there is nothing to set up.
        if (socket.readyState !== socket.OPEN) return false;
        const { actor } = state;
        // Connections opened per person (every process counts), and held at once per person here.
        const personal = await refusedBy(() => deps.rateLimits.consumeFor('socketConnect', actor));
        if (personal) {
          socket.close(CLOSE_TOO_MANY, personal);
          return false;
        }
        if (actor.kind === 'staff' || actor.kind === 'patient') {
          const person =
            actor.kind === 'staff' ? { organisationId: actor.organisationId, teamMemberId: actor.teamMemberId } : { organisationId: actor.organisationId, patientId: actor.patientId };
          if (deps.rateLimits.enabled && deps.live.connectionCount(person) >= config.rateLimits.maxConnectionsPerPerson) {
            socket.close(CLOSE_TOO_MANY, `At most ${config.rateLimits.maxConnectionsPerPerson} connections at once`);
            return false;
          }
          // An archived person's connections close at once, in every process (the bus carries the notice).
          state.unregister = deps.live.registerConnection(person, (code, reason) => closeConnection(socket, code, reason));
          // Archived between the token check and the registration: the notice went by unseen.
          if (await personArchived(deps, person)) {
            closeConnection(socket, CLOSE_REVOKED, 'Access revoked');
            return false;
          }
        }
        const remaining = state.actor.expiresAt - Date.now();
        state.expiryTimer = setTimeout(() => closeConnection(socket, CLOSE_TOKEN_EXPIRED, 'Token expired'), Math.min(Math.max(remaining, 0), MAX_TIMER_MS));
        state.expiryTimer.unref();
        // Closed during the awaits above: onClose has run already, with nothing counted yet.
        if (socket.readyState !== socket.OPEN) {
          clearTimeout(state.expiryTimer);
          state.unregister?.();
          return false;
        }
        state.counted = true;
        deps.metrics.sockets.inc();
        return true;
      },
      onClose: (ctx) => {
        const state = states.get(ctx.extra);
        if (state?.counted) {
          deps.metrics.sockets.dec();
          deps.metrics.subscriptions.dec(state.operations.size);
          state.operations.clear();
        }
        if (state?.expiryTimer) clearTimeout(state.expiryTimer);
        state?.unregister?.();
        state?.closing.abort();
      },
      onComplete: (ctx, id) => {
        if (states.get(ctx.extra)?.operations.delete(id)) deps.metrics.subscriptions.dec();
      },
      onSubscribe: async (ctx, id, payload) => {
        const state = states.get(ctx.extra);
        // A document refused before it ran is on the caller's audit log, as over HTTP.
        const refuse = async (errors: readonly GraphQLError[]) => {
          await recordAudit(createContext(deps, state?.actor, `${state?.connectionId}:${id}`), { action: 'Request.refused', args: {}, outcome: 'REJECTED', errorCode: String(errors[0]?.extensions?.code ?? 'BAD_REQUEST') });
          return [...errors];
        };
        const oversized = oversizedDocument(payload.query, config.limits);
        if (oversized) return refuse([oversized]);
        const query = trusted ? trusted.admit(payload) : payload.query;
        if (query === undefined) return refuse([withCode(new GraphQLError(UNTRUSTED_DOCUMENT.message), UNTRUSTED_DOCUMENT.extensions.code)]);
        const checked = documents.check(query);
        if (checked.errors) return refuse(checked.errors);
        const { document } = checked;
        const operation = getOperationAST(document, payload.operationName);
        if (!operation) return [withCode(new GraphQLError('Unable to identify the operation.'), 'BAD_REQUEST')];
        if (operation.operation === 'mutation') return [withCode(new GraphQLError('Mutations go over HTTP POST.'), 'BAD_REQUEST')];
        const tooCostly = checkCost(schema, document, payload.variables ?? undefined, payload.operationName, config.limits.maxCost);
        if (tooCostly) return refuse([tooCostly]);
        if (state?.token) {
          // Role groups and permissions may have changed since the connection opened (the identity cache follows the directory).
          try {
            state.actor = await authenticator.authenticate(state.token);
          } catch (error) {
            if (!(error instanceof AuthenticationError)) throw error;
            return [withCode(new GraphQLError('The token is no longer valid; connect again with a new one.'), 'UNAUTHENTICATED')];
          }
        }
        if (state && state.operations.size >= config.live.maxSubscriptionsPerSocket) {
          return [withCode(new GraphQLError(`At most ${config.live.maxSubscriptionsPerSocket} subscriptions per connection.`), 'TOO_MANY_SUBSCRIPTIONS')];
        }
        state?.operations.add(id);
        deps.metrics.subscriptions.inc();
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: createContext(deps, state?.actor, `${state?.connectionId}:${id}`, state?.closing.signal),
        };
      },
      // Every subscription is on the audit log once, allowed or refused, when it starts.
      onOperation: async (_ctx, _id, _payload, args, result) => {
        const settled = await result;
        const refused = Symbol.asyncIterator in settled ? undefined : settled.errors?.[0];
        await auditSubscription(schema, args.document, args.variableValues ?? undefined, args.contextValue as Context, refused, args.operationName);
      },
      onError: (ctx, id, _payload, errors) => {
        if (states.get(ctx.extra)?.operations.delete(id)) deps.metrics.subscriptions.dec();
        return errors.map((error) => maskError(error.toJSON(), error, logger));
      },
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((error) => maskError(error.toJSON(), error, logger)) } : undefined,
    },
    wsServer,
    config.live.keepAliveMs,
  );
  const stopWatchdog = watchSlowConsumers(wsServer, config.live.maxBufferedBytes, config.live.sendStallMs, logger, closeConnection);

  return {
    async close() {
      stopWatchdog();
      for (const client of wsServer.clients) client.close(1001, 'Server shutting down');
      await disposable.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}

/**
 * Closes sockets whose client does not read what it is sent: more unsent bytes than the limit,
 * or unsent bytes for longer than the stall time. Sends are awaited one at a time per operation,
 * so a slow reader holds at most one result per subscription here; this watchdog ends the wait.
 * The close code (1013) tells graphql-ws clients to reconnect and resume from their cursors.
 */
function watchSlowConsumers(
  wsServer: WebSocketServer,
  maxBufferedBytes: number,
  stallMs: number,
  logger: AppDeps['logger'],
  closeConnection: (socket: WebSocket, code: number, reason: string) => void,
): () => void {
  const pendingSince = new WeakMap<object, number>();
  const timer = setInterval(
    () => {
      const now = Date.now();
      for (const socket of wsServer.clients) {
        if (socket.readyState !== socket.OPEN) continue;
        const buffered = socket.bufferedAmount;
        if (buffered === 0) {
          pendingSince.delete(socket);
          continue;
        }
        const since = pendingSince.get(socket) ?? now;
        pendingSince.set(socket, since);
        if (buffered > maxBufferedBytes || now - since >= stallMs) {
          logger.warn({ buffered, stalledMs: now - since }, 'closing a websocket that does not keep up');
          closeConnection(socket, CLOSE_SLOW_CONSUMER, 'Slow consumer: reconnect and resume from your cursors');
        }
      }
    },
    Math.max(50, Math.min(1_000, Math.floor(stallMs / 4))),
  );
  timer.unref();
  return () => clearInterval(timer);
}

async function personArchived(deps: AppDeps, person: { organisationId: string; teamMemberId?: string; patientId?: string }): Promise<boolean> {
  const em = deps.orm.em.fork();
  em.setFilterParams(TENANT_FILTER, { organisationId: person.organisationId });
  const rows = await em.execute<Array<{ archived: boolean }>>(
    person.teamMemberId
      ? 'select archived_at is not null as archived from team_member where organisation_id = ? and id = ?'
      : 'select archived_at is not null as archived from patient where organisation_id = ? and id = ?',
    [person.organisationId, person.teamMemberId ?? person.patientId],
  );
  return rows.length === 0 || rows[0].archived;
}

/** At most this much query text is kept parsed (an AST is up to about 100 times its text). */
const MAX_KEPT_CHARS = 256 * 1024;

/**
 * Parsed and validated subscription documents by query text: every subscriber of the same query
 * shares one document (an AST is tens of kilobytes: per idle subscriber, that was most of its
 * memory) and it is parsed and validated once. Only valid documents are kept, the oldest going
 * first beyond MAX_KEPT_CHARS of text in all; a refused text is checked afresh every time.
 */
class CheckedDocuments {
  private readonly known = new Map<string, DocumentNode>();
  private keptChars = 0;

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly rules: ValidationRule[],
    private readonly parseOptions: ParseOptions,
  ) {}

  check(query: string): { document: DocumentNode; errors?: undefined } | { document?: undefined; errors: GraphQLError[] } {
    const known = this.known.get(query);
    if (known) return { document: known };
    const checked = this.parseAndValidate(query);
    if (checked.document && query.length <= MAX_KEPT_CHARS / 16) {
      this.known.set(query, checked.document);
      this.keptChars += query.length;
      for (const [text] of this.known) {
        if (this.keptChars <= MAX_KEPT_CHARS) break;
        this.known.delete(text);
        this.keptChars -= text.length;
      }
    }
    return checked;
  }

  private parseAndValidate(query: string) {
    let document: DocumentNode;
    try {
      document = parse(query, this.parseOptions);
    } catch (error) {
      return { errors: [withCode(error instanceof GraphQLError ? error : new GraphQLError('Syntax error'), 'GRAPHQL_PARSE_FAILED')] };
    }
    const errors = validate(this.schema, document, this.rules);
    if (errors.length > 0) return { errors: errors.map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED')) };
    return { document };
  }
}
