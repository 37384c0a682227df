import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { CloseCode } from 'graphql-ws';
import { GraphQLError, getOperationAST, parse, validate, type GraphQLSchema } from 'graphql';
import type { AppDeps } from '../graphql/context';
import { createContext } from '../graphql/context';
import { allValidationRules } from '../graphql/limits';
import { maskError } from '../graphql/errors';
import { costError, operationCost } from '../graphql/cost';
import { authenticate, AuthenticationError, bearerToken } from '../auth/authenticate';
import type { TokenVerifier } from '../auth/tokens';
import type { Actor } from '../auth/actor';
import { requestIdOf } from './http';

interface ConnectionState {
  actor?: Actor;
  connectionId: string;
  expiryTimer?: NodeJS.Timeout;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Labels a request error the way Apollo does on HTTP, so both transports answer alike. */
function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, extensions: { code } });
}

/**
 * graphql-ws on the same path as HTTP. The token is checked once at connection_init; every
 * subscribe gets the same validation and limits as HTTP; the socket closes (4401) when the
 * token expires.
 */
export function attachWebSocketServer(httpServer: HttpServer, deps: AppDeps, schema: GraphQLSchema, verifier: TokenVerifier) {
  const { config, logger } = deps;
  const rules = allValidationRules(config);
  const states = new WeakMap<object, ConnectionState>();
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
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        const state: ConnectionState = { connectionId: requestIdOf(undefined) };
        states.set(ctx.extra, state);
        const token = bearerToken(ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization);
        if (!token) {
          socket.close(CloseCode.Unauthorized, 'Unauthorized');
          return false;
        }
        try {
          state.actor = await authenticate(deps.orm.em.fork(), verifier, token);
        } catch (error) {
          if (!(error instanceof AuthenticationError)) {
            // Never let graphql-ws put an internal message into the close reason.
            logger.error({ err: error, connectionId: state.connectionId }, 'websocket authentication failed');
            socket.close(1011, 'Internal server error');
            return false;
          }
          logger.info({ connectionId: state.connectionId, reason: error.reason }, 'websocket token rejected');
          socket.close(error.reason.startsWith('unknown') ? CloseCode.Forbidden : CloseCode.Unauthorized, error.reason.startsWith('unknown') ? 'Forbidden' : 'Unauthorized');
          return false;
        }
        const remaining = state.actor.expiresAt - Date.now();
        state.expiryTimer = setTimeout(() => socket.close(CloseCode.Unauthorized, 'Token expired'), Math.min(Math.max(remaining, 0), MAX_TIMER_MS));
        state.expiryTimer.unref();
        return true;
      },
      onClose: (ctx) => {
        const state = states.get(ctx.extra);
        if (state?.expiryTimer) clearTimeout(state.expiryTimer);
      },
      onSubscribe: (ctx, id, payload) => {
        const state = states.get(ctx.extra);
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [withCode(error instanceof GraphQLError ? error : new GraphQLError('Syntax error'), 'GRAPHQL_PARSE_FAILED')];
        }
        const errors = validate(schema, document, rules);
        if (errors.length > 0) return errors.map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED'));
        const operation = getOperationAST(document, payload.operationName);
        if (!operation) return [withCode(new GraphQLError('Unable to identify the operation.'), 'BAD_REQUEST')];
        if (operation.operation === 'mutation') return [withCode(new GraphQLError('Mutations go over HTTP POST.'), 'BAD_REQUEST')];
        const tooCostly = costError(operationCost(schema, document, payload.variables ?? undefined, payload.operationName), config.limits.maxCost);
        if (tooCostly) return [tooCostly];
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: createContext(deps, state?.actor, `${state?.connectionId}:${id}`),
        };
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => maskError(error.toJSON(), error, logger)),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((error) => maskError(error.toJSON(), error, logger)) } : undefined,
    },
    wsServer,
    12_000,
  );

  return {
    async close() {
      for (const client of wsServer.clients) client.close(1001, 'Server shutting down');
      await disposable.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}
