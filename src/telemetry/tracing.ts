import type { IncomingMessage } from 'node:http';
import { NodeSDK, type core, type tracing } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { GraphQLInstrumentation } from '@opentelemetry/instrumentation-graphql';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';

/**
 * OpenTelemetry traces, off unless an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT`
 * or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, with the SDK's other `OTEL_*` settings): HTTP requests,
 * GraphQL operations (parse, validate, execute, named by the operation), PostgreSQL statements
 * and Redis commands. Spans carry no variables, documents, bodies or capabilities: GraphQL values
 * and documents are left out, SQL is the statement text with placeholders and no quoted literals,
 * Redis the command name alone, and URLs lose their query strings and file tickets.
 */
const REMOVED_ATTRIBUTES = ['graphql.source', 'url.query', 'url.full', 'http.url', 'http.user_agent', 'user_agent.original'];
/** SQL texts: the ORM writes some values into the text itself (quoted), and those go. */
const SQL_ATTRIBUTES = ['db.query.text', 'db.statement'];

/** A SQL text without its quoted literals (strings, escape strings, dollar-quoted bodies). */
export function withoutLiterals(sql: string): string {
  return sql.replace(/\$(\w*)\$[\s\S]*?\$\1\$/g, "'?'").replace(/[eE]?'(?:[^'\\]|''|\\.)*'/g, "'?'");
}

/** A URL path fit for a span: no query string, and a file URL's ticket (a working capability) replaced. */
export function safePath(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0];
  return path.replace(/^(\/files\/\w+\/).+$/, '$1…');
}

/** The exporter's spans without the attributes that could carry values or text. */
type ReadableSpan = tracing.ReadableSpan;

export class RedactingExporter implements tracing.SpanExporter {
  constructor(private readonly next: tracing.SpanExporter) {}

  export(spans: ReadableSpan[], resultCallback: (result: core.ExportResult) => void): void {
    const redacted = spans.map((span) => {
      const attributes = { ...span.attributes };
      for (const name of REMOVED_ATTRIBUTES) delete attributes[name];
      for (const name of SQL_ATTRIBUTES) if (typeof attributes[name] === 'string') attributes[name] = withoutLiterals(attributes[name]);
      // Error texts quote what was sent (GraphQL syntax and coercion errors, PostgreSQL's "invalid
      // input" messages): a span keeps an error's type and code, never its message or stack.
      const events = span.events.map((event) => ({ ...event, attributes: event.attributes?.['exception.type'] ? { 'exception.type': event.attributes['exception.type'] } : {} }));
      // The span's own methods and fields stay; only what it says changes.
      return Object.create(span, { attributes: { value: attributes }, events: { value: events }, status: { value: { code: span.status.code } } }) as ReadableSpan;
    });
    this.next.export(redacted, resultCallback);
  }

  shutdown(): Promise<void> {
    return this.next.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush?.() ?? Promise.resolve();
  }
}

export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.OTEL_SDK_DISABLED !== 'true' && Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** Starts tracing when configured; must run before the instrumented libraries are loaded. */
export function startTracing(env: NodeJS.ProcessEnv = process.env): NodeSDK | undefined {
  if (!tracingConfigured(env)) return undefined;
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? 'care-messaging',
    traceExporter: new RedactingExporter(new OTLPTraceExporter()),
    instrumentations: [
      new HttpInstrumentation({
        // Probes and scrapes are not traced.
        ignoreIncomingRequestHook: (request) => /^\/(healthz|readyz|metrics)(\?|$)/.test(request.url ?? ''),
        requestHook: (span, request) => {
          // Outgoing requests (push services, SMS, mail APIs): their paths can hold a capability.
          const path = 'headers' in request ? safePath((request as IncomingMessage).url) : '/…';
          span.setAttribute('http.target', path);
          span.setAttribute('url.path', path);
          if ('headers' in request) span.updateName(`${(request as IncomingMessage).method ?? 'HTTP'} ${path}`);
        },
      }),
      new GraphQLInstrumentation({ allowValues: false, mergeItems: true, ignoreResolveSpans: true }),
      new PgInstrumentation({ enhancedDatabaseReporting: false }),
      new IORedisInstrumentation({ dbStatementSerializer: (command) => command }),
    ],
  });
  sdk.start();
  return sdk;
}
