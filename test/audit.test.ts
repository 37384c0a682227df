import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { connectionCloseCode, errorCodes, eventually, ok, request, subscribe } from './support/client';
import { createClient } from 'graphql-ws';
import { SignJWT } from 'jose';
import { TEST_JWT_SECRET } from './support/server';
import WebSocket from 'ws';
import { parse, print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { randomUUID } from 'node:crypto';
import { AuditEventsDocument, ChannelActivateDocument, ChannelByIdDocument, ChannelEventsDocument, ChannelListWithDetailsDocument, ChannelMessagesDocument, MeDocument, MessageSearchDocument, MessageSendDocument } from './generated/graphql';

let server: TestServer;
let org: TestOrganisation;
let admin: Person;
let clinician: Person;
let patient: Person;
let channelId: string;

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN']);
  clinician = await org.addStaff('Dr Audit');
  patient = await org.addPatient('Audited Patient');
  channelId = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
});
afterAll(() => server.close());

const audit = async (filter: Record<string, string>) =>
  (await ok(server.url, admin.token, AuditEventsDocument, { filter, first: 50 })).auditEvents.edges.map((edge) => edge.node);

it('records changes and reads of messages and channels, with actor, action, target, time and request id', async () => {
  await ok(server.url, clinician.token, MessageSendDocument, { input: { channelId, body: 'audited' } });
  await ok(server.url, patient.token, ChannelByIdDocument, { id: channelId });
  const events = await audit({ targetId: channelId });
  const sent = events.find((event) => event.action === 'Mutation.messageSend')!;
  expect(sent).toMatchObject({ actorKind: 'staff', actorId: clinician.id, targetType: 'channel', targetId: channelId, outcome: 'ALLOWED', errorCode: null });
  expect(sent.requestId).toBeTruthy();
  expect(new Date(sent.occurredAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
  expect(events.find((event) => event.action === 'Query.channel')).toMatchObject({ actorKind: 'patient', actorId: patient.id, outcome: 'ALLOWED' });
  expect(events.find((event) => event.action === 'Mutation.channelActivate')).toBeUndefined(); // its target is the patient
  expect((await audit({ targetId: patient.id })).map((event) => event.action)).toContain('Mutation.channelActivate');
});

it('records denied and rejected attempts too, and subscriptions when they start', async () => {
  const outsider = await org.addPatient('Curious Patient');
  await ok(server.url, outsider.token, MessageSendDocument, { input: { channelId, body: 'let me in' } });
  await ok(server.url, clinician.token, MessageSendDocument, { input: { channelId, body: '' } });
  await request(server.url, outsider.token, AuditEventsDocument, {});
  const refused = subscribe(server.wsUrl, outsider.token, ChannelEventsDocument, { channelId });
  expect(await refused.endCodes()).toEqual(['NOT_FOUND']);

  await eventually(async () => (await audit({ actorId: outsider.id })).length >= 3);
  const byOutsider = await audit({ actorId: outsider.id });
  expect(byOutsider.map((event) => [event.action, event.outcome, event.errorCode])).toEqual(
    expect.arrayContaining([
      ['Mutation.messageSend', 'DENIED', 'NOT_FOUND'],
      ['Query.auditEvents', 'DENIED', 'FORBIDDEN'],
      ['Subscription.channelEvents', 'DENIED', 'NOT_FOUND'],
    ]),
  );
  const rejected = (await audit({ actorId: clinician.id, action: 'Mutation.messageSend' })).find((event) => event.outcome === 'REJECTED');
  expect(rejected).toMatchObject({ errorCode: 'INVALID_INPUT' });
});

it('records whose messages a read returned (pages and search, nested or not); not what a list without them returned', async () => {
  const reader = await org.addStaff('Rea Reader');
  const other = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: (await org.addPatient('Second Patient')).id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
  for (const id of [channelId, other]) await ok(server.url, clinician.token, MessageSendDocument, { input: { channelId: id, body: 'readable words' } });
  await ok(server.url, clinician.token, ChannelMessagesDocument, { id: channelId, first: 5 });
  await ok(server.url, clinician.token, MessageSearchDocument, { query: 'readable' });
  await ok(server.url, reader.token, ChannelListWithDetailsDocument, { first: 5 });
  await eventually(async () => (await audit({ actorId: clinician.id, action: 'Query.messageSearch' })).length >= 3);
  const reads = (await audit({ actorId: clinician.id })).filter((event) => ['Channel.messages', 'Query.messageSearch'].includes(event.action) && event.targetId !== null);
  expect(reads.map((event) => [event.action, event.targetType, event.targetId]).sort()).toEqual(
    [
      ['Channel.messages', 'channel', channelId],
      ['Query.messageSearch', 'channel', channelId],
      ['Query.messageSearch', 'channel', other],
    ].sort(),
  );
  // The reader is in no channel: their list read no messages.
  expect((await audit({ actorId: reader.id })).map((event) => event.action)).toEqual(['Query.channels']);
});

it('a lookup of a hidden or absent id is recorded as a refused probe (NOT_FOUND); a query over a socket is recorded once', async () => {
  const prober = await org.addPatient('Probing Patient');
  await ok(server.url, prober.token, ChannelByIdDocument, { id: channelId });
  await ok(server.url, prober.token, ChannelByIdDocument, { id: randomUUID() });
  const socket = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${prober.token}` }, retryAttempts: 0 });
  try {
    for await (const result of socket.iterate({ query: print(MeDocument) })) {
      expect(result.errors).toBeUndefined();
      break;
    }
  } finally {
    await socket.dispose();
  }
  await eventually(async () => (await audit({ actorId: prober.id })).length >= 3);
  const byProber = (await audit({ actorId: prober.id })).map((event) => [event.action, event.outcome, event.errorCode]);
  expect(byProber).toEqual(
    expect.arrayContaining([
      ['Query.channel', 'DENIED', 'NOT_FOUND'],
      ['Query.channel', 'DENIED', 'NOT_FOUND'],
      ['Query.me', 'ALLOWED', null],
    ]),
  );
  expect(byProber).toHaveLength(3);
});

it('a request refused before it ran (validation, cost, variables) is on the caller\'s audit log', async () => {
  const careless = await org.addStaff('Careless Client');
  await request(server.url, careless.token, MeDocument, {});
  const post = (body: unknown) =>
    fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${careless.token}` }, body: JSON.stringify(body) });
  await post({ query: '{ noSuchField }' });
  await post({ query: 'query ($n: Int) { channels(first: $n) { edges { cursor } } }', variables: { n: 'abc' } });
  const overSocket = subscribe(server.wsUrl, careless.token, parse('subscription { noSuchField }') as TypedDocumentNode<unknown, Record<string, never>>, {});
  expect(await overSocket.endCodes()).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  await eventually(async () => (await audit({ actorId: careless.id })).length >= 4);
  expect((await audit({ actorId: careless.id })).map((event) => [event.action, event.outcome, event.errorCode]).sort()).toEqual(
    [
      ['Query.me', 'ALLOWED', null],
      ['Request.refused', 'REJECTED', 'GRAPHQL_VALIDATION_FAILED'],
      ['Request.refused', 'REJECTED', 'GRAPHQL_VALIDATION_FAILED'],
      ['Request.refused', 'REJECTED', 'BAD_USER_INPUT'],
    ].sort(),
  );
});

it('refused tokens naming an organisation are on its audit log (claims unverified), at most so many per address', async () => {
  const sign = (claims: Record<string, unknown>, secret = TEST_JWT_SECRET) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(secret));
  const forged = await sign({ role: 'staff', org: org.slug, sub: 'forged-subject' }, 'another-secret-that-is-long-enough-0123456789');
  const unknown = await sign({ role: 'staff', org: org.slug, sub: 'nobody-here' });
  expect((await request(server.url, forged, MeDocument, {})).status).toBe(401);
  expect(await connectionCloseCode(server.wsUrl, { authorization: `Bearer ${unknown}` })).toBe(4403);
  await eventually(async () => (await audit({ action: 'Request.tokenRefused' })).length >= 2);
  expect((await audit({ action: 'Request.tokenRefused' })).map((event) => [event.actorKind, event.actorId, event.outcome, event.errorCode]).sort()).toEqual(
    [
      ['unverified', 'forged-subject', 'DENIED', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'],
      ['unverified', 'nobody-here', 'DENIED', 'unknown team member'],
    ].sort(),
  );

  const strict = await startTestServer({ RATE_LIMITS: JSON.stringify({ refusedTokenRecord: { address: '2/60' } }) });
  try {
    const other = await createOrganisation(strict);
    const otherAdmin = await other.addStaff('Other Admin', ['MESSAGING_ADMIN']);
    const flood = await sign({ role: 'staff', org: other.slug, sub: 'flooder' }, 'another-secret-that-is-long-enough-0123456789');
    for (let index = 0; index < 5; index++) expect((await request(strict.url, flood, MeDocument, {})).status).toBe(401);
    await strict.deps.auditLog.flush();
    const recorded = (await ok(strict.url, otherAdmin.token, AuditEventsDocument, { filter: { action: 'Request.tokenRefused' }, first: 50 })).auditEvents.edges;
    expect(recorded).toHaveLength(2);
  } finally {
    await strict.close();
  }
});

it('denied: only messaging admins read the audit log', async () => {
  expect(errorCodes(await request(server.url, clinician.token, AuditEventsDocument, {}))).toEqual(['FORBIDDEN']);
  expect(errorCodes(await request(server.url, patient.token, AuditEventsDocument, {}))).toEqual(['FORBIDDEN']);
  expect(errorCodes(await request(server.url, org.serviceToken, AuditEventsDocument, {}))).toEqual(['FORBIDDEN']);
});

it('another organisation’s admin sees none of it', async () => {
  const other = await createOrganisation(server);
  const otherAdmin = await other.addStaff('Other Admin', ['MESSAGING_ADMIN']);
  const seen = await ok(server.url, otherAdmin.token, AuditEventsDocument, { filter: { targetId: channelId } });
  expect(seen.auditEvents.edges).toEqual([]);
});

it('the log is append-only in the database: UPDATE and DELETE are refused', async () => {
  const em = server.orm.em.fork();
  await expect(em.execute("update audit_event set outcome = 'ALLOWED' where organisation_id = ?", [org.id])).rejects.toThrow(/append-only/);
  await expect(em.execute('delete from audit_event where organisation_id = ?', [org.id])).rejects.toThrow(/append-only/);
  expect((await audit({})).length).toBeGreaterThan(0);
});
