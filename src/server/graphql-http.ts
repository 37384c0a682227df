import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import cors from 'cors';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import type { AppDeps, Context } from '../graphql/context';
import { createContext } from '../graphql/context';
import { AuthenticationError, bearerToken, type Authenticator } from '../auth/authenticate';
import { ApiErrorCode, unauthenticated } from '../errors';
import { UNTRUSTED_DOCUMENT, type TrustedDocuments } from './trusted-documents';
import { oversizedDocument } from '../graphql/limits';
import { recordRefusedToken } from '../modules/audit/refused-tokens';

type Next = (error?: unknown) => void;
type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

/**
 * `/graphql` over HTTP, served straight from Node's request handler the way Apollo's standalone
 * server does (CORS, JSON body, Apollo), without Express's router and response helpers in
 * between: on this path they cost more than the whole of an authenticated `{ __typename }`.
 */
export function graphqlHttpHandler(deps: AppDeps, apollo: ApolloServer<Context>, authenticator: Authenticator, trusted?: TrustedDocuments) {
  const { config, logger } = deps;
  const allowCors = cors({ origin: config.allowedOrigins ?? true, credentials: false, maxAge: 600 }) as Middleware;
  const readJson = express.json({ limit: config.limits.bodyBytes }) as unknown as Middleware;

  const contextOf = async (req: IncomingMessage, requestId: string, clientRequestId: string | undefined): Promise<Context> => {
    const token = bearerToken(req.headers.authorization);
    if (!token) return createContext(deps, undefined, requestId, undefined, clientRequestId);
    try {
      return createContext(deps, await authenticator.authenticate(token), requestId, undefined, clientRequestId);
    } catch (error) {
      if (error instanceof AuthenticationError) {
        logger.info({ requestId, reason: error.reason }, 'token rejected');
        await recordRefusedToken(deps, token, error.reason, requestId, req.socket.remoteAddress ?? 'unknown');
        throw new GraphQLError(unauthenticated().message, { extensions: { code: ApiErrorCode.UNAUTHENTICATED, http: { status: 401 } } });
      }
      throw error;
    }
  };

  const execute = async (req: IncomingMessage & { body?: unknown }, res: ServerResponse, requestId: string, clientRequestId: string | undefined) => {
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const query = req.url!.indexOf('?');
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method!.toUpperCase(), headers, search: query >= 0 ? req.url!.slice(query) : '', body: req.body },
      context: () => contextOf(req, requestId, clientRequestId),
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') return void res.end(response.body.string);
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };

  return (req: IncomingMessage, res: ServerResponse, requestId: string, clientRequestId?: string) => {
    // Without the Sandbox there is no page to show: a browser opening the URL gets a short JSON hint.
    if (!config.sandbox && req.method === 'GET' && !/[?&]query=/.test(req.url!)) {
      return sendJson(res, 404, { errors: [{ message: 'This is a GraphQL API: POST operations as JSON to this URL.', extensions: { code: 'NOT_FOUND' } }] });
    }
    const fail = (error: unknown) => answerError(error, res, logger, requestId);
    allowCors(req, res, (corsError) => {
      if (corsError) return fail(corsError);
      readJson(req, res, (bodyError) => {
        if (bodyError) return fail(bodyError);
        const oversized = oversizedDocument((req as { body?: { query?: unknown } }).body?.query, config.limits);
        if (oversized) return sendJson(res, 400, { errors: [{ message: oversized.message, extensions: { code: oversized.extensions.code } }] });
        if (trusted && !admitTrusted(trusted, req as IncomingMessage & { body?: unknown })) return sendJson(res, 400, { errors: [UNTRUSTED_DOCUMENT] });
        execute(req, res, requestId, clientRequestId).catch(fail);
      });
    });
  };
}

/**
 * With trusted documents, a request runs only a document of the manifest: POSTed as its text or
 * its key (the text is then filled in); operations in a GET's URL are not taken.
 */
function admitTrusted(trusted: TrustedDocuments, req: IncomingMessage & { body?: unknown }): boolean {
  if (req.method !== 'POST') return req.method === 'OPTIONS';
  const body = req.body as { query?: unknown; extensions?: Record<string, unknown> } | undefined;
  const query = body && typeof body === 'object' ? trusted.admit(body) : undefined;
  if (query === undefined || !body) return false;
  body.query = query;
  // The manifest's key may be another hash than Apollo's sha256 of the text: the text now speaks for itself.
  if (body.extensions) delete body.extensions.persistedQuery;
  return true;
}

/** Body-parser errors (oversized or malformed JSON) answer as GraphQL-shaped errors; anything else is a logged, bare 500. */
export function answerError(error: unknown, res: ServerResponse, logger: Logger, requestId: string): void {
  const { status, type } = (error ?? {}) as { status?: number; type?: string };
  if (status && status < 500) {
    const code = type === 'entity.too.large' ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST';
    return sendJson(res, status, { errors: [{ message: code === 'PAYLOAD_TOO_LARGE' ? 'Request body too large.' : 'Malformed request.', extensions: { code } }] });
  }
  logger.error({ err: error, requestId }, 'unhandled request error');
  if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
  else res.destroy();
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}
