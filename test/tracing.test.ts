import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOwnDatabase, type OwnDatabase } from './support/database';
import { startServerProcess, type ServerProcess } from './support/process';
import { createOrganisation } from './support/fixtures';
import { eventually, ok } from './support/client';
import { ChannelActivateDocument, ConversationStartDocument, MeDocument, MessageSendDocument } from './generated/graphql';
import { RedactingExporter, safePath, withoutLiterals } from '../src/telemetry/tracing';

/**
 * Traces as an operator gets them: the server process exports OTLP (JSON over HTTP) to a
 * collector, here a local receiver. Spans name HTTP requests, GraphQL operations and SQL
 * statements, and never carry variables, documents or message text.
 */
let database: OwnDatabase;
let server: ServerProcess;
let collector: http.Server;
const exported: string[] = [];

beforeAll(async () => {
  collector = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url === '/v1/traces') exported.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', () => resolve()));
  database = await createOwnDatabase('tracing');
  server = await startServerProcess(database.url, {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_SERVICE_NAME: 'care-messaging-test',
  });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await new Promise<void>((resolve) => collector.close(() => resolve()));
  await database?.drop();
});

it('exports spans of HTTP requests, named GraphQL operations and PostgreSQL statements, without variables, documents or message text', async () => {
  const org = await createOrganisation(server);
  const clinician = await org.addStaff('Dr Traced');
  const patient = await org.addPatient('Traced Patient');
  await ok(server.url, clinician.token, MeDocument, {});
  const channel = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!;
  const secret = 'Blood results: haemoglobin 92';
  await ok(server.url, clinician.token, MessageSendDocument, { input: { channelId: channel.id, body: secret } });
  // Written through the ORM, which puts values into the SQL text itself.
  const started = await ok(server.url, clinician.token, ConversationStartDocument, { input: { patientId: patient.id, title: 'Oncology referral', body: 'Biopsy booked for Tuesday' } });
  expect(started.conversationStart.userErrors).toEqual([]);
  await eventually(() => exported.join('\n').includes('MessageSend') && exported.join('\n').includes('"service.name"'), 10_000);
  const all = exported.join('\n');
  expect(all).toContain('care-messaging-test');
  // HTTP, GraphQL (by operation name) and PostgreSQL spans.
  expect(all).toMatch(/"name":"POST \/graphql"/);
  expect(all).toContain('"graphql.operation.name"');
  expect(all).toMatch(/"name":"query Me"|"stringValue":"Me"/);
  expect(all).toMatch(/"db.system(\.name)?","value":\{"stringValue":"postgresql"\}/);
  // Nothing of what was sent: not the body, not the document, not the variables.
  expect(all).not.toContain(secret);
  expect(all).not.toContain('haemoglobin');
  expect(all).not.toContain('Oncology');
  expect(all).not.toContain('Biopsy');
  expect(all).not.toContain('mutation MessageSend(');
  expect(all).not.toContain('graphql.source');
  expect(all).not.toContain(clinician.token);
});

it('a span’s URL path loses its query string and a file URL its ticket', () => {
  expect(safePath('/graphql?query=%7Bme%7D&variables=%7B%22body%22%3A%22x%22%7D')).toBe('/graphql');
  expect(safePath('/files/download/eyJ0aWNrZXQiOiJ4In0')).toBe('/files/download/…');
  expect(safePath('/healthz')).toBe('/healthz');
});

it('a span’s SQL loses its quoted literals, placeholders and structure kept', () => {
  expect(withoutLiterals("insert into message (body, seq) values ('It''s my \\'knee\\'', 3), ($1, $2)")).toBe("insert into message (body, seq) values ('?', 3), ($1, $2)");
  expect(withoutLiterals("select E'a\\nb', $tag$ body $tag$ from t where x = ?")).toBe("select '?', '?' from t where x = ?");
});

it('an error’s message and stack leave no span (they quote what was sent): its type and the status code stay', async () => {
  const received: unknown[] = [];
  const exporter = new RedactingExporter({ export: (spans, done) => { received.push(...spans); done({ code: 0 }); }, shutdown: async () => undefined });
  const span = {
    name: 'graphql.parse',
    attributes: { 'graphql.source': '{ me "Leukaemia relapse" }', 'db.query.text': "select 'Leukaemia'" },
    events: [{ name: 'exception', time: [0, 0], attributes: { 'exception.type': 'GraphQLError', 'exception.message': 'Syntax Error: Expected Name, found String "Leukaemia relapse".', 'exception.stacktrace': 'at parse (Leukaemia)' } }],
    status: { code: 2, message: 'Syntax Error: Expected Name, found String "Leukaemia relapse".' },
    spanContext: () => ({ traceId: 't', spanId: 's', traceFlags: 1 }),
  };
  exporter.export([span as never], () => undefined);
  const [out] = received as Array<typeof span>;
  expect(JSON.stringify({ attributes: out.attributes, events: out.events, status: out.status })).not.toContain('Leukaemia');
  expect(out.events[0].attributes).toEqual({ 'exception.type': 'GraphQLError' });
  expect(out.status).toEqual({ code: 2 });
  expect(out.name).toBe('graphql.parse');
  expect(out.spanContext().spanId).toBe('s');
});
