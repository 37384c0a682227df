import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { startTestServer, type TestServer } from './support/server';
import { createOwnDatabase, type OwnDatabase } from './support/database';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { eventually, ok, request } from './support/client';
import { SmtpSink } from './support/notification-sinks';
import { actions, codes } from './support/actions';
import {
  ConversationCloseDocument,
  ConversationStartDocument,
  WebhookDeliveriesDocument,
  WebhookDeliveryReplayDocument,
  WebhookEndpointCreateDocument,
  WebhookEndpointDeleteDocument,
  WebhookEndpointRotateSecretDocument,
  WebhookEndpointsDocument,
  WebhookEndpointUpdateDocument,
  type WebhookEndpointCreateInput,
  type WebhookEventType,
} from './generated/graphql';
import { addressAllowed, resolveAllowed, DestinationRefused } from '../src/modules/webhooks/destination-wall';

/**
 * Signed webhooks against a local receiver: signatures verify, failures are retried in order,
 * dead deliveries replay, timeouts and redirects fail, private destinations are refused at
 * registration and at send, a failing endpoint is turned off, and across a restart every event
 * reaches the receiver exactly once.
 */
type Behaviour = 'ok' | 'fail' | 'hang' | 'redirect' | 'huge';

interface Received {
  path: string;
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  status: number;
}

class Receiver {
  received: Received[] = [];
  behaviour: Behaviour | ((count: number) => Behaviour) = 'ok';
  redirectTo = '';
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      const seen = this.received.filter((entry) => entry.id === id).length;
      const behaviour = typeof this.behaviour === 'function' ? this.behaviour(seen) : this.behaviour;
      const record = (status: number) =>
        this.received.push({ path: req.url ?? '', id, timestamp: String(req.headers['webhook-timestamp']), signature: String(req.headers['webhook-signature']), body: Buffer.concat(chunks).toString('utf8'), status });
      switch (behaviour) {
        case 'ok':
          record(204);
          return res.writeHead(204).end();
        case 'fail':
          record(500);
          return res.writeHead(500).end('nope');
        case 'hang':
          record(0);
          return; // never answers
        case 'redirect':
          record(302);
          return res.writeHead(302, { location: this.redirectTo }).end();
        case 'huge':
          record(200);
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.end(Buffer.alloc(2 * 1024 * 1024, 'x'));
      }
    });
  });
  url = '';

  async listen(host = '127.0.0.1'): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, host, () => resolve()));
    this.url = `http://${host}:${(this.server.address() as AddressInfo).port}/hooks`;
    return this;
  }

  acknowledged(): Received[] {
    return this.received.filter((entry) => entry.status >= 200 && entry.status < 300);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const smtp = new SmtpSink();
const SETTINGS = {
  WEBHOOK_POLL_MS: '50',
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_MAX_ATTEMPTS: '3',
  WEBHOOK_TIMEOUT_MS: '600',
  WEBHOOK_MAX_RESPONSE_BYTES: '1024',
  WEBHOOK_ALLOWED_NETWORKS: '127.0.0.1/32',
  WEBHOOK_DISABLE_AFTER_FAILURES: '8',
  WEBHOOK_DISABLE_AFTER_HOURS: '0',
};

let database: OwnDatabase;
let server: TestServer;
let receiver: Receiver;
let elsewhere: Receiver;
let org: TestOrganisation;
let admin: Person;
let clinician: Person;
const { activate, post } = actions(() => server);

beforeAll(async () => {
  database = await createOwnDatabase('webhooks');
  await smtp.start();
  Object.assign(SETTINGS, { NOTIFICATION_WORKER: 'true', NOTIFICATION_POLL_MS: '50', NOTIFICATION_MAX_ATTEMPTS: '1', SMTP_URL: smtp.url });
  server = await startTestServer(SETTINGS, undefined, { databaseUrl: database.url });
  receiver = await new Receiver().listen();
  // On another loopback address, outside the allowed network: nothing may ever reach it.
  elsewhere = await new Receiver().listen('127.0.0.2');
  org = await createOrganisation(server);
  admin = await org.addStaff('Hook Admin', ['MESSAGING_ADMIN']);
  clinician = await org.addStaff('Dr Hook');
});
afterAll(async () => {
  await server.close();
  await receiver.close();
  await elsewhere.close();
  await smtp.stop();
  await database.drop();
});
beforeEach(() => {
  receiver.received = [];
  receiver.behaviour = 'ok';
  elsewhere.received = [];
});

const register = async (who: { token: string } | string, input: Partial<WebhookEndpointCreateInput> & { eventTypes: WebhookEventType[] }) => {
  const token = typeof who === 'string' ? who : who.token;
  return (await ok(server.url, token, WebhookEndpointCreateDocument, { input: { url: receiver.url, ...input } })).webhookEndpointCreate;
};

/** A fresh endpoint of a fresh organisation (so earlier tests' events do not mix in). */
async function freshEndpoint(eventTypes: WebhookEventType[], extra: Partial<WebhookEndpointCreateInput> = {}) {
  const organisation = await createOrganisation(server);
  const staff = await organisation.addStaff('Dr Fresh');
  const created = await register(organisation.serviceToken, { eventTypes, ...extra });
  expect(created.userErrors).toEqual([]);
  return { organisation, staff, endpoint: created.webhookEndpoint!, secret: created.secret! };
}

/** What the receiver accepted at `path`, each verified with the secret (throws if a signature does not verify). */
const bodies = (secret: string, path = '/hooks') =>
  receiver.acknowledged().filter((entry) => entry.path === path).map((entry) => new Webhook(secret).verify(entry.body, { 'webhook-id': entry.id, 'webhook-timestamp': entry.timestamp, 'webhook-signature': entry.signature }) as { type: string; data: Record<string, unknown> });

const deliveriesOf = async (endpointId: string, token = admin.token) =>
  (await ok(server.url, token, WebhookDeliveriesDocument, { endpointId, first: 100 })).webhookDeliveries.edges.map((edge) => edge.node);

describe('registering endpoints', () => {
  it('messaging admins and the integration register endpoints and get the secret once; others are refused', async () => {
    const byAdmin = await register(admin, { eventTypes: ['MESSAGE_SENT'], description: 'EHR sync' });
    expect(byAdmin.userErrors).toEqual([]);
    expect(byAdmin.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32}$/);
    const byService = await register(org.serviceToken, { eventTypes: ['MEMBER_ADDED'] });
    expect(byService.userErrors).toEqual([]);

    const listed = (await ok(server.url, org.serviceToken, WebhookEndpointsDocument, {})).webhookEndpoints;
    expect(listed.map((endpoint) => endpoint.id)).toEqual(expect.arrayContaining([byAdmin.webhookEndpoint!.id, byService.webhookEndpoint!.id]));
    expect(JSON.stringify(listed)).not.toContain('whsec_');

    // A team member without MESSAGING_ADMIN: a userError for mutations, an error for reads.
    expect(codes(await register(clinician, { eventTypes: ['MESSAGE_SENT'] }))).toEqual(['FORBIDDEN']);
    expect((await request(server.url, clinician.token, WebhookEndpointsDocument, {})).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const patient = await org.addPatient('Hook Patient');
    expect((await request(server.url, patient.token, WebhookEndpointCreateDocument, { input: { url: receiver.url, eventTypes: ['MESSAGE_SENT'] } })).errors?.[0].extensions?.code).toBe('FORBIDDEN');

    // Another organisation sees none of them and cannot change them.
    const other = await createOrganisation(server);
    expect((await ok(server.url, other.serviceToken, WebhookEndpointsDocument, {})).webhookEndpoints).toEqual([]);
    const foreign = await ok(server.url, other.serviceToken, WebhookEndpointUpdateDocument, { input: { endpointId: byAdmin.webhookEndpoint!.id, enabled: false } });
    expect(codes(foreign.webhookEndpointUpdate)).toEqual(['NOT_FOUND']);
    expect(await deliveriesOf(byAdmin.webhookEndpoint!.id, other.serviceToken)).toEqual([]);

    const deleted = await ok(server.url, admin.token, WebhookEndpointDeleteDocument, { input: { endpointId: byService.webhookEndpoint!.id } });
    expect(deleted.webhookEndpointDelete.userErrors).toEqual([]);
  });

  it('an organisation has at most 20 endpoints', async () => {
    const organisation = await createOrganisation(server);
    for (let index = 0; index < 20; index++) expect((await register(organisation.serviceToken, { eventTypes: ['MESSAGE_SENT'], enabled: false })).userErrors).toEqual([]);
    const refused = await register(organisation.serviceToken, { eventTypes: ['MESSAGE_SENT'], enabled: false });
    expect(refused.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', message: 'An organisation has at most 20 webhook endpoints.' })]);
  });

  it('refuses URLs that reach loopback, private, link-local or metadata addresses, and bad input, changing nothing', async () => {
    const before = (await ok(server.url, admin.token, WebhookEndpointsDocument, {})).webhookEndpoints.length;
    for (const url of [
      'http://127.0.0.2/hooks',
      'http://[::1]/hooks',
      'http://[::ffff:127.0.0.2]/hooks',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.5/',
      'http://192.168.1.10/',
      'http://172.16.0.1/',
      'http://100.100.100.200/',
      'http://[fd00:ec2::254]/',
      'http://0.0.0.0/',
    ]) {
      const refused = await register(admin, { url, eventTypes: ['MESSAGE_SENT'] });
      expect({ url, codes: codes(refused) }).toEqual({ url, codes: ['WEBHOOK_URL_REFUSED'] });
      expect(refused.userErrors[0].field).toBe('input.url');
    }
    for (const url of ['ftp://example.com/', 'http://user:secret@93.184.215.14/', 'not a url', 'http://no-such-host.invalid/']) {
      expect(codes(await register(admin, { url, eventTypes: ['MESSAGE_SENT'] }))).toEqual(['WEBHOOK_URL_REFUSED']);
    }
    expect(codes(await register(admin, { eventTypes: [] }))).toEqual(['INVALID_INPUT']);
    expect(codes(await register(admin, { eventTypes: ['MESSAGE_SENT'], description: 'x'.repeat(201) }))).toEqual(['INVALID_INPUT']);
    // A public address is accepted (nothing is sent at registration).
    const publicOne = await register(admin, { url: 'http://93.184.215.14/hooks', eventTypes: ['MESSAGE_SENT'], enabled: false });
    expect(publicOne.userErrors).toEqual([]);
    expect((await ok(server.url, admin.token, WebhookEndpointsDocument, {})).webhookEndpoints.length).toBe(before + 1);
  });

  it('the wall: only public unicast addresses (or an allowed network), whatever a name resolves to when sent', async () => {
    const rules = { httpsOnly: false, allowedNetworks: [] };
    expect(addressAllowed('93.184.215.14', rules)).toBe(true);
    expect(addressAllowed('2606:2800:220:1:248:1893:25c8:1946', rules)).toBe(true);
    for (const address of ['127.0.0.1', '::1', '::ffff:10.1.2.3', '::7f00:1', '169.254.169.254', 'fe80::1', '100.64.0.1', '224.0.0.1', '255.255.255.255', 'fc00::1', '64:ff9b::a00:1']) {
      expect({ address, allowed: addressAllowed(address, rules) }).toEqual({ address, allowed: false });
    }
    // A name that pointed at a public address and now points at a private one is refused at send.
    const url = new URL('https://partner.example/hooks');
    await expect(resolveAllowed(url, rules, async () => [{ address: '93.184.215.14', family: 4 }])).resolves.toHaveLength(1);
    await expect(resolveAllowed(url, rules, async () => [{ address: '93.184.215.14', family: 4 }, { address: '10.0.0.1', family: 4 }])).rejects.toEqual(new DestinationRefused('PRIVATE_ADDRESS'));
    await expect(resolveAllowed(new URL('http://x.example/'), { httpsOnly: false, allowedNetworks: [] }, async () => [])).rejects.toEqual(new DestinationRefused('UNRESOLVABLE'));
    // A name server that never answers does not hold a send (or a registration) beyond the deadline.
    await expect(resolveAllowed(url, rules, () => new Promise(() => undefined), 50)).rejects.toEqual(new DestinationRefused('UNRESOLVABLE'));
  });
});

describe('delivering', () => {
  it('sends subscribed events in commit order, signed, with ids and no content unless the endpoint opted in', async () => {
    const { organisation, staff, endpoint, secret } = await freshEndpoint(['MESSAGE_SENT', 'CONVERSATION_STARTED', 'CONVERSATION_CLOSED', 'MEMBER_ADDED']);
    const withContent = await register(organisation.serviceToken, { url: `${receiver.url}-content`, eventTypes: ['MESSAGE_SENT'], includeContent: true });
    const patient = await organisation.addPatient('Private Person');
    const care = await activate(staff, patient, 'CARE_TEAM');
    const sent = [];
    for (const text of ['first secret text', 'second secret text', 'third secret text']) sent.push(await post(staff, care.id, text));
    const started = (await ok(server.url, staff.token, ConversationStartDocument, { input: { patientId: patient.id, title: 'Confidential title', body: 'Hello' } })).conversationStart;
    expect(started.userErrors).toEqual([]);
    await ok(server.url, staff.token, ConversationCloseDocument, { input: { channelId: started.channel!.id } });

    await eventually(() => bodies(secret).some((event) => event.type === 'conversation.closed'), 10_000);
    await eventually(() => receiver.acknowledged().filter((entry) => entry.path === '/hooks-content').length >= 4, 10_000);
    const forEndpoint = bodies(secret);
    expect(forEndpoint.every((event) => event.data.organisationId === organisation.id && !('content' in event.data))).toBe(true);
    const messages = forEndpoint.filter((event) => event.type === 'message.sent' && event.data.channelId === care.id).map((event) => event.data.messageId);
    expect(messages).toEqual(sent.map((message) => message.id));
    const types = forEndpoint.map((event) => event.type);
    expect(types.indexOf('conversation.started')).toBeLessThan(types.indexOf('conversation.closed'));
    expect(types).toContain('member.added');
    expect(forEndpoint[0].data).toEqual(expect.objectContaining({ channelId: care.id, channelKind: 'CARE_TEAM', patientId: patient.id }));
    const plain = JSON.stringify(forEndpoint);
    for (const secretWord of ['secret text', 'Confidential title', 'Private Person', 'Dr Fresh']) expect(plain).not.toContain(secretWord);

    // The endpoint that opted in gets the text and author, read when sent.
    const withText = bodies(withContent.secret!, '/hooks-content').filter((event) => event.data.channelId === care.id);
    expect(withText.map((event) => (event.data.content as { body: string }).body)).toEqual(['first secret text', 'second secret text', 'third secret text']);
    expect((withText[0].data.content as { authorName: string }).authorName).toBe('Dr Fresh');
    expect(withContent.webhookEndpoint!.includeContent).toBe(true);

    const log = await deliveriesOf(endpoint.id, organisation.serviceToken);
    expect(log.every((delivery) => delivery.status === 'DELIVERED' && delivery.attempts === 1 && delivery.lastStatusCode === 204)).toBe(true);
    // Newest first, paged with opaque cursors that do not change between reads.
    const first = (await ok(server.url, organisation.serviceToken, WebhookDeliveriesDocument, { endpointId: endpoint.id, first: 2 })).webhookDeliveries;
    const again = (await ok(server.url, organisation.serviceToken, WebhookDeliveriesDocument, { endpointId: endpoint.id, first: 2 })).webhookDeliveries;
    expect(again.pageInfo.endCursor).toBe(first.pageInfo.endCursor);
    const rest = (await ok(server.url, organisation.serviceToken, WebhookDeliveriesDocument, { endpointId: endpoint.id, first: 100, after: first.pageInfo.endCursor })).webhookDeliveries;
    expect([...first.edges, ...rest.edges].map((edge) => edge.node.id)).toEqual(log.map((delivery) => delivery.id));
    const payloads = log.map((delivery) => JSON.parse(delivery.payload) as { channelId: string; messageId?: string });
    expect(payloads.filter((data) => data.channelId === care.id && data.messageId).map((data) => data.messageId).reverse()).toEqual(sent.map((message) => message.id));
    expect((await request(server.url, organisation.serviceToken, WebhookDeliveriesDocument, { endpointId: endpoint.id, after: 'forged' })).errors?.[0].extensions?.code).toBe('CURSOR_INVALID');
    expect(JSON.stringify(log)).not.toContain('secret text');
  });

  it('retries a failing delivery with backoff while the ones behind it wait, gives it up as dead after the last attempt, and replays it with the same id', async () => {
    const { organisation, staff, endpoint, secret } = await freshEndpoint(['MESSAGE_SENT']);
    const patient = await organisation.addPatient('Retry Patient');
    const care = await activate(staff, patient, 'CARE_TEAM');
    // The first event fails twice, then succeeds: the second waits behind it.
    receiver.behaviour = (count) => (count < 2 ? 'fail' : 'ok');
    const first = await post(staff, care.id, 'one');
    const second = await post(staff, care.id, 'two');
    await eventually(() => receiver.acknowledged().length === 2, 10_000);
    expect(bodies(secret).map((event) => event.data.messageId)).toEqual([first.id, second.id]);
    const attemptsOfFirst = receiver.received.filter((entry) => entry.id === receiver.acknowledged()[0].id).map((entry) => entry.status);
    expect(attemptsOfFirst).toEqual([500, 500, 204]);
    // Nothing of the second was sent before the first was delivered.
    const firstAcknowledged = receiver.received.findIndex((entry) => entry.status === 204);
    expect(receiver.received.slice(0, firstAcknowledged).every((entry) => entry.id === receiver.received[0].id)).toBe(true);

    // Failing three times: dead, and the next one goes.
    receiver.received = [];
    receiver.behaviour = (count) => (receiver.received.length < 3 ? 'fail' : 'ok');
    const doomed = await post(staff, care.id, 'three');
    const after = await post(staff, care.id, 'four');
    await eventually(() => receiver.acknowledged().length === 1, 10_000);
    expect(bodies(secret).map((event) => event.data.messageId)).toEqual([after.id]);
    const dead = (await ok(server.url, organisation.serviceToken, WebhookDeliveriesDocument, { endpointId: endpoint.id, status: 'DEAD', first: 10 })).webhookDeliveries.edges.map((edge) => edge.node);
    expect(dead).toEqual([expect.objectContaining({ status: 'DEAD', attempts: 3, lastStatusCode: 500, lastError: 'HTTP_STATUS', nextAttemptAt: null })]);
    expect(JSON.parse(dead[0].payload)).toEqual(expect.objectContaining({ messageId: doomed.id }));

    const replayed = await ok(server.url, organisation.serviceToken, WebhookDeliveryReplayDocument, { input: { deliveryId: dead[0].id } });
    expect(replayed.webhookDeliveryReplay.userErrors).toEqual([]);
    expect(replayed.webhookDeliveryReplay.webhookDelivery).toEqual(expect.objectContaining({ eventId: dead[0].eventId, replayOf: dead[0].id, status: 'PENDING' }));
    await eventually(() => receiver.acknowledged().length === 2, 10_000);
    expect(receiver.acknowledged()[1].id).toBe(dead[0].eventId);
    // Replay is for those who manage webhooks, in their own organisation.
    expect(codes((await ok(server.url, staff.token, WebhookDeliveryReplayDocument, { input: { deliveryId: dead[0].id } })).webhookDeliveryReplay)).toEqual(['FORBIDDEN']);
    expect(codes((await ok(server.url, org.serviceToken, WebhookDeliveryReplayDocument, { input: { deliveryId: dead[0].id } })).webhookDeliveryReplay)).toEqual(['NOT_FOUND']);
  });

  it('a receiver that hangs times out, a redirect (to loopback) is not followed, an oversized answer is not read past the cap', async () => {
    const { organisation, staff, endpoint } = await freshEndpoint(['MESSAGE_SENT']);
    const patient = await organisation.addPatient('Slow Patient');
    const care = await activate(staff, patient, 'CARE_TEAM');
    const lastOf = async () => (await deliveriesOf(endpoint.id, organisation.serviceToken))[0];
    const settled = (count: number, status: string) => eventually(async () => {
      const log = await deliveriesOf(endpoint.id, organisation.serviceToken);
      return log.length === count && log[0].status === status;
    }, 10_000);
    receiver.behaviour = 'hang';
    await post(staff, care.id, 'hang on');
    await settled(1, 'DEAD');
    expect(await lastOf()).toEqual(expect.objectContaining({ lastError: 'TIMEOUT', lastStatusCode: null, attempts: 3 }));

    receiver.behaviour = 'redirect';
    receiver.redirectTo = elsewhere.url;
    await post(staff, care.id, 'go elsewhere');
    await settled(2, 'DEAD');
    expect(await lastOf()).toEqual(expect.objectContaining({ lastError: 'REDIRECT_NOT_FOLLOWED', lastStatusCode: 302 }));
    expect(elsewhere.received).toEqual([]);

    receiver.behaviour = 'huge';
    await post(staff, care.id, 'a big answer');
    await settled(3, 'DELIVERED');
    expect((await lastOf()).attempts).toBe(1);
  });

  it('checks the destination again at every send: an endpoint whose address became private is not called', async () => {
    const { organisation, staff, endpoint } = await freshEndpoint(['MESSAGE_SENT']);
    // What a DNS change would do, without DNS: the stored destination now resolves to a private address.
    await server.orm.em.fork().execute('update webhook_endpoint set url = ? where id = ?', [elsewhere.url, endpoint.id]);
    const patient = await organisation.addPatient('Rebound Patient');
    const care = await activate(staff, patient, 'CARE_TEAM');
    await post(staff, care.id, 'where to?');
    await eventually(async () => (await deliveriesOf(endpoint.id, organisation.serviceToken))[0]?.lastError === 'PRIVATE_ADDRESS', 10_000);
    expect(elsewhere.received).toEqual([]);
  });

  it('turns off an endpoint that keeps failing, emails the messaging admins, and sends what waited once it is on again', async () => {
    const { organisation, staff, endpoint, secret } = await freshEndpoint(['MESSAGE_SENT']);
    const admins = [await organisation.addStaff('Admin One', ['MESSAGING_ADMIN']), await organisation.addStaff('Admin Two', ['MESSAGING_ADMIN'])];
    const patient = await organisation.addPatient('Failing Patient');
    const care = await activate(staff, patient, 'CARE_TEAM');
    receiver.behaviour = 'fail';
    for (const text of ['a', 'b', 'c', 'd']) await post(staff, care.id, text);
    await eventually(async () => !(await ok(server.url, organisation.serviceToken, WebhookEndpointsDocument, {})).webhookEndpoints[0].enabled, 15_000);
    const [off] = (await ok(server.url, organisation.serviceToken, WebhookEndpointsDocument, {})).webhookEndpoints;
    expect(off).toEqual(expect.objectContaining({ enabled: false, disabledReason: 'FAILING', failureStreak: 8 }));
    const notices = await server.orm.em.fork().execute<Array<{ team_member_id: string; transport: string }>>(
      `select team_member_id, transport from notification where organisation_id = ? and kind = 'WEBHOOK_DISABLED'`,
      [organisation.id],
    );
    expect(notices.map((notice) => notice.team_member_id).sort()).toEqual(admins.map((person) => person.id).sort());
    expect(notices.every((notice) => notice.transport === 'EMAIL')).toBe(true);
    // The email names the organisation and links to the settings: no endpoint address, no patient, no message.
    const addresses = admins.map((person) => `${person.externalId}@clinic.example`);
    await eventually(() => smtp.mails.filter((mail) => addresses.includes(mail.to[0])).length === 2, 10_000);
    const mail = smtp.mails.find((candidate) => candidate.to[0] === addresses[0])!;
    expect(mail.subject).toBe(`A webhook endpoint of Test ${organisation.slug} was turned off`);
    expect(mail.text).toContain('/settings/webhooks');
    for (const secretWord of [receiver.url, 'Failing Patient', endpoint.id]) expect(mail.raw).not.toContain(secretWord);

    // Nothing is sent while it is off; turned on again, what is still pending goes.
    const attempts = receiver.received.length;
    await post(staff, care.id, 'while off');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(receiver.received.length).toBe(attempts);
    receiver.behaviour = 'ok';
    const on = await ok(server.url, organisation.serviceToken, WebhookEndpointUpdateDocument, { input: { endpointId: endpoint.id, enabled: true } });
    expect(on.webhookEndpointUpdate.webhookEndpoint).toEqual(expect.objectContaining({ enabled: true, disabledReason: null, failureStreak: 0 }));
    await eventually(async () => (await deliveriesOf(endpoint.id, organisation.serviceToken)).every((delivery) => delivery.status !== 'PENDING'), 10_000);
    expect(bodies(secret).length).toBeGreaterThan(0);
  });

  it('signs with both secrets during a rotation overlap, and with the new one only after', async () => {
    const { organisation, staff, endpoint, secret: oldSecret } = await freshEndpoint(['MESSAGE_SENT']);
    const patient = await organisation.addPatient('Rotating Patient');
    const care = await activate(staff, patient, 'CARE_TEAM');
    const rotated = (await ok(server.url, organisation.serviceToken, WebhookEndpointRotateSecretDocument, { input: { endpointId: endpoint.id, overlapMinutes: 60 } })).webhookEndpointRotateSecret;
    expect(rotated.userErrors).toEqual([]);
    const newSecret = rotated.secret!;
    expect(newSecret).not.toBe(oldSecret);
    expect(rotated.webhookEndpoint!.previousSecretExpiresAt).not.toBeNull();
    await post(staff, care.id, 'during the overlap');
    await eventually(() => receiver.acknowledged().length === 1, 10_000);
    expect(receiver.acknowledged()[0].signature.split(' ')).toHaveLength(2);
    expect(bodies(oldSecret)).toHaveLength(1);
    expect(bodies(newSecret)).toHaveLength(1);

    const again = (await ok(server.url, organisation.serviceToken, WebhookEndpointRotateSecretDocument, { input: { endpointId: endpoint.id, overlapMinutes: 0 } })).webhookEndpointRotateSecret;
    receiver.received = [];
    await post(staff, care.id, 'after the overlap');
    await eventually(() => receiver.acknowledged().length === 1, 10_000);
    expect(receiver.acknowledged()[0].signature.split(' ')).toHaveLength(1);
    expect(bodies(again.secret!)).toHaveLength(1);
    expect(() => bodies(newSecret)).toThrow();
    expect(codes((await ok(server.url, organisation.serviceToken, WebhookEndpointRotateSecretDocument, { input: { endpointId: endpoint.id, overlapMinutes: 20_000 } })).webhookEndpointRotateSecret)).toEqual(['INVALID_INPUT']);
  });
});

it('tells subscribed endpoints of a notice that could not be sent, with ids and a reason code only', async () => {
  const { organisation, secret } = await freshEndpoint(['NOTIFICATION_FAILED']);
  const unreachable = await organisation.addStaff('Unreachable Admin', ['MESSAGING_ADMIN']);
  await smtp.stop();
  try {
    const [{ id }] = await server.orm.em
      .fork()
      .execute<Array<{ id: string }>>(`insert into notification (organisation_id, kind, transport, team_member_id, due_at) values (?, 'WEBHOOK_DISABLED', 'EMAIL', ?, now()) returning id`, [
        organisation.id,
        unreachable.id,
      ]);
    await eventually(() => bodies(secret).length === 1, 10_000);
    expect(bodies(secret)[0]).toEqual({
      type: 'notification.failed',
      timestamp: expect.any(String),
      data: expect.objectContaining({ organisationId: organisation.id, notificationId: id, transport: 'EMAIL', recipient: { kind: 'TEAM_MEMBER', id: unreachable.id }, reason: expect.any(String) }),
    });
    expect(JSON.stringify(bodies(secret))).not.toContain('clinic.example');
  } finally {
    await smtp.start();
  }
});

it('across a restart with the receiver failing, every event reaches the receiver exactly once, in order', async () => {
  const { organisation, staff, secret } = await freshEndpoint(['MESSAGE_SENT']);
  const patient = await organisation.addPatient('Restart Patient');
  const care = await activate(staff, patient, 'CARE_TEAM');
  receiver.behaviour = (count) => (count < 1 ? 'fail' : 'ok');
  const sent = [];
  for (let index = 0; index < 5; index++) sent.push(await post(staff, care.id, `before ${index}`));
  await eventually(() => receiver.received.length >= 2, 10_000);
  await server.close();
  server = await startTestServer(SETTINGS, undefined, { databaseUrl: database.url });
  for (let index = 0; index < 5; index++) sent.push(await post(staff, care.id, `after ${index}`));
  await eventually(() => receiver.acknowledged().length >= 10, 15_000);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const acknowledged = receiver.acknowledged().map((entry) => entry.id);
  expect(new Set(acknowledged).size).toBe(acknowledged.length);
  expect(bodies(secret).map((event) => event.data.messageId)).toEqual(sent.map((message) => message.id));
});
