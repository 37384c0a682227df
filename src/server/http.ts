import express, { type Express, type Request } from 'express';
import cors from 'cors';
import { randomUUID } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginLandingPageLocalDefault, ApolloServerPluginLandingPageProductionDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { AppDeps } from '../graphql/context';
import { createContext } from '../graphql/context';
import { extraValidationRules } from '../graphql/limits';
import { maskError } from '../graphql/errors';
import { costError, operationCost } from '../graphql/cost';
import { AuthenticationError, bearerToken, type Authenticator } from '../auth/authenticate';
import { ApiErrorCode, unauthenticated } from '../errors';
import { openDownload, receiveUpload } from '../modules/attachments/attachment.service';

export interface HttpParts {
  app: Express;
  apollo: ApolloServer;
}

const REQUEST_ID = /^[\w.-]{1,64}$/;

export function requestIdOf(header: unknown): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

export async function createHttpApp(deps: AppDeps, schema: GraphQLSchema, authenticator: Authenticator, readiness: () => Promise<boolean>): Promise<HttpParts> {
  const { config, logger } = deps;
  const apollo = new ApolloServer({
    schema,
    introspection: config.sandbox,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    includeStacktraceInErrorResponses: false,
    // No "Did you mean …" field suggestions when the schema is not public.
    hideSchemaDetailsFromClientErrors: !config.sandbox,
    validationRules: extraValidationRules(config),
    formatError: (formatted, error) => maskError(formatted, error, logger),
    plugins: [
      // The schema gives no cache hints, so there is nothing to collect: without this, Apollo
      // wraps every field resolver to collect them.
      ApolloServerPluginCacheControlDisabled(),
      {
        // Cost depends on variables (page sizes), so it is checked once the operation is known.
        async requestDidStart() {
          return {
            async didResolveOperation({ request, document, schema: operationSchema }) {
              const error = costError(operationCost(operationSchema, document, request.variables, request.operationName), config.limits.maxCost);
              if (error) throw error;
            },
          };
        },
      },
      config.sandbox
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
        : ApolloServerPluginLandingPageProductionDefault({ footer: false }),
    ],
  });
  await apollo.start();

  const app = express();
  app.disable('x-powered-by');
  // Answers are private and never revalidated: no ETag hashing of every response body.
  app.set('etag', false);
  app.set('trust proxy', false);
  // One access-log line per request: method, path, status, duration and request id; never bodies.
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    const requestId = requestIdOf(req.headers['x-request-id']);
    req.headers['x-request-id'] = requestId;
    res.setHeader('x-request-id', requestId);
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // File URLs carry a working capability: never logged.
      const path = req.path.startsWith('/files/') ? req.path.replace(/^(\/files\/\w+\/).*/, '$1…') : req.path;
      logger.info({ requestId, method: req.method, path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await readiness().catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable' });
  });
  // Upload and download URLs carry their own short-lived, sealed capability (no bearer token).
  app.put('/files/upload/:ticket', async (req, res, next) => {
    try {
      const length = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
      const result = await receiveUpload(deps, String(req.params.ticket), req, Number.isFinite(length) ? length : undefined);
      if (result.status === 413) res.setHeader('connection', 'close');
      res.status(result.status).json(result.body);
    } catch (error) {
      next(error);
    }
  });
  app.get('/files/download/:ticket', async (req, res, next) => {
    try {
      const result = await openDownload(deps, String(req.params.ticket));
      if (!result.file) return void res.status(result.status).json(result.body);
      const { attachment, stream } = result.file;
      res.setHeader('content-type', attachment.contentType!);
      res.setHeader('content-length', String(attachment.sizeBytes));
      // Shown in place (images, video) or saved, never run: no sniffing, no scripts, private cache.
      res.setHeader('content-disposition', `${attachment.contentType!.startsWith('application/') ? 'attachment' : 'inline'}; filename*=UTF-8''${encodeURIComponent(attachment.fileName)}`);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('content-security-policy', "default-src 'none'; sandbox");
      res.setHeader('cache-control', 'no-store');
      res.setHeader('referrer-policy', 'no-referrer');
      stream.on('error', next);
      stream.pipe(res);
    } catch (error) {
      next(error);
    }
  });
  app.use(
    '/graphql',
    cors<cors.CorsRequest>({ origin: config.allowedOrigins ?? true, credentials: false, maxAge: 600 }),
    express.json({ limit: config.limits.bodyBytes }),
    expressMiddleware(apollo, {
      context: async ({ req }: { req: Request }) => {
        const requestId = requestIdOf(req.headers['x-request-id']);
        const token = bearerToken(req.headers.authorization);
        if (!token) return createContext(deps, undefined, requestId);
        try {
          return createContext(deps, await authenticator.authenticate(token), requestId);
        } catch (error) {
          if (error instanceof AuthenticationError) {
            logger.info({ requestId, reason: error.reason }, 'token rejected');
            throw new GraphQLError(unauthenticated().message, { extensions: { code: ApiErrorCode.UNAUTHENTICATED, http: { status: 401 } } });
          }
          throw error;
        }
      },
    }),
  );
  // Body-parser errors (oversized or malformed JSON) answer as GraphQL-shaped errors.
  app.use((error: { status?: number; type?: string }, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (!error?.status || error.status >= 500) return next(error);
    const code = error.type === 'entity.too.large' ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST';
    res.status(error.status).json({ errors: [{ message: code === 'PAYLOAD_TOO_LARGE' ? 'Request body too large.' : 'Malformed request.', extensions: { code } }] });
  });
  // Anything else that reaches Express: logged here, a bare 500 to the client (no stack).
  app.use((error: unknown, req: express.Request, res: express.Response, _next: express.NextFunction) => {
    logger.error({ err: error, requestId: req.headers['x-request-id'] }, 'unhandled request error');
    if (!res.headersSent) res.status(500).json({ errors: [{ message: 'Internal server error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
  });
  return { app, apollo };
}
