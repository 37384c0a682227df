import express from 'express';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { GraphQLSchema } from 'graphql';
import type { AppDeps, Context } from '../graphql/context';
import { extraValidationRules, parseOptions } from '../graphql/limits';
import { maskError } from '../graphql/errors';
import { checkCost } from '../graphql/cost';
import { recordAudit } from '../modules/audit/audit-recorder';
import type { Authenticator } from '../auth/authenticate';
import { answerError, graphqlHttpHandler } from './graphql-http';
import type { TrustedDocuments } from './trusted-documents';
import { openDownload, receiveUpload } from '../modules/attachments/attachment.service';
import { answerMetrics, bearsMetricsToken } from '../telemetry/metrics-endpoint';

export interface HttpParts {
  /** The server's request listener: `/graphql` straight to Apollo, everything else through Express. */
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  apollo: ApolloServer<Context>;
}

const REQUEST_ID = /^[\w.-]{1,64}$/;

/** The `x-request-id` a client sent, if it is a plausible one (kept beside the server's own id, never instead of it). */
export function clientRequestIdOf(header: unknown): string | undefined {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : undefined;
}

export async function createHttpApp(deps: AppDeps, schema: GraphQLSchema, authenticator: Authenticator, readiness: () => Promise<boolean>, trusted?: TrustedDocuments): Promise<HttpParts> {
  const { config, logger } = deps;
  const apollo = new ApolloServer<Context>({
    schema,
    introspection: config.sandbox,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    includeStacktraceInErrorResponses: false,
    // No "Did you mean …" field suggestions when the schema is not public.
    hideSchemaDetailsFromClientErrors: !config.sandbox,
    validationRules: extraValidationRules(config),
    parseOptions: parseOptions(config.limits),
    formatError: (formatted, error) => maskError(formatted, error, logger),
    plugins: [
      // The schema gives no cache hints, so there is nothing to collect: without this, Apollo
      // wraps every field resolver to collect them.
      ApolloServerPluginCacheControlDisabled(),
      {
        // Cost depends on variables (page sizes), so it is checked once the operation is known.
        async requestDidStart() {
          const started = process.hrtime.bigint();
          let failed = false;
          return {
            async willSendResponse({ operation, operationName }) {
              deps.metrics.operations.observe(
                // A name becomes a label only for a document that parsed, validated and named an operation.
                { transport: 'http', type: operation?.operation ?? 'invalid', operation: operation ? deps.metrics.operationLabel(operationName) : 'invalid', outcome: failed ? 'error' : 'ok' },
                Number(process.hrtime.bigint() - started) / 1e9,
              );
            },
            // A document refused before any operation ran (parse, validation, cost, variables) is on the caller's audit log.
            async didEncounterErrors({ contextValue, errors }) {
              failed = true;
              // Errors of fields have a path; these stopped the whole request.
              // An automatic persisted query's first miss is the protocol working (the client sends the text next).
              const refusal = errors.find((error) => error.path === undefined && error.extensions?.code !== 'PERSISTED_QUERY_NOT_FOUND');
              if (refusal) await recordAudit(contextValue, { action: 'Request.refused', args: {}, outcome: 'REJECTED', errorCode: String(refusal.extensions?.code ?? 'BAD_REQUEST') });
            },
            async didResolveOperation({ request, document, schema: operationSchema }) {
              const error = checkCost(operationSchema, document, request.variables, request.operationName, config.limits.maxCost);
              if (error) throw error;
            },
          };
        },
      },
      // In production no landing page: Apollo's loads scripts and fonts from third-party CDNs and names the server.
      config.sandbox ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }) : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  const app = express();
  app.disable('x-powered-by');
  // Answers are private and never revalidated: no ETag hashing of every response body.
  app.set('etag', false);
  app.set('trust proxy', false);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await readiness().catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable' });
  });
  // Prometheus metrics on the API port: only for the bearer of METRICS_TOKEN (else as if absent).
  app.get('/metrics', (req, res, next) => {
    if (!bearsMetricsToken(req, config.metrics.token)) return void res.status(404).json({ status: 'not found' });
    answerMetrics(deps.metrics, res).catch(next);
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
      const result = await openDownload(deps, String(req.params.ticket), String(res.getHeader('x-request-id')));
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
  // Anything that reaches Express's error handler: body-parser errors as GraphQL-shaped ones, the rest a logged 500.
  app.use((error: unknown, req: express.Request, res: express.Response, _next: express.NextFunction) => {
    answerError(error, res, logger, String(res.getHeader('x-request-id')));
  });

  const graphql = graphqlHttpHandler(deps, apollo, authenticator, trusted);
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    // The server names every request itself: a client's id is logged and audited beside it.
    const requestId = randomUUID();
    const clientRequestId = clientRequestIdOf(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    const query = req.url!.indexOf('?');
    const path = query >= 0 ? req.url!.slice(0, query) : req.url!;
    // One access-log line per request: method, path, status, duration and request id; never bodies.
    res.on('finish', () => {
      if (!logger.isLevelEnabled('info')) return;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // File URLs carry a working capability: never logged.
      const shown = path.startsWith('/files/') ? path.replace(/^(\/files\/\w+\/).*/, '$1…') : path;
      logger.info({ requestId, clientRequestId, method: req.method, path: shown, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    if (path === '/graphql' || path.startsWith('/graphql/')) graphql(req, res, requestId, clientRequestId);
    else app(req, res);
  };
  return { handle, apollo };
}
