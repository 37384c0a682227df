import WebSocket from 'ws';
import { print } from 'graphql';
import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { eventually, ok, subscribe } from './support/client';
import { actions } from './support/actions';
import { createOwnDatabase, type OwnDatabase } from './support/database';
import { ChannelEventsDocument, ChannelJoinDocument, InboxEventsDocument } from './generated/graphql';
import { pruneEventLog } from '../src/realtime/retention';

let server: TestServer;
let org: TestOrganisation;
let clinician: Person;

beforeAll(async () => {
  // A tiny shared buffer, so readers keep falling back to the database and catching up again.
  server = await startTestServer({ LIVE_FEED_BUFFER: '5', WS_MAX_SUBSCRIPTIONS: '3', WS_SEND_STALL_MS: '300', WS_MAX_BUFFERED_BYTES: '1000000000', MESSAGE_BODY_MAX_CHARS: '200000' });
  org = await createOrganisation(server);
  clinician = await org.addStaff('Dr Delivery');
});
afterAll(() => server.close());

const { activate, post } = actions(() => server);

describe('exactly once, in order', () => {
  it('concurrent senders: a live subscriber and one that disconnects and resumes each get every message once, in order', async () => {
    const patient = await org.addPatient('Busy Patient');
    const channel = await activate(clinician, patient);
    const senders = [clinician, patient];
    for (let i = 0; i < 3; i++) {
      const extra = await org.addStaff(`Sender ${i}`);
      await ok(server.url, extra.token, ChannelJoinDocument, { input: { channelId: channel.id } });
      senders.push(extra);
    }
    const start = await post(clinician, channel.id, 'start');
    const steady = subscribe(server.wsUrl, clinician.token, ChannelEventsDocument, { channelId: channel.id, after: start.cursor });
    let flaky = subscribe(server.wsUrl, patient.token, ChannelEventsDocument, { channelId: channel.id, after: start.cursor });

    const perSender = 12;
    const sending = Promise.all(senders.map(async (sender, s) => {
      for (let i = 0; i < perSender; i++) await post(sender, channel.id, `${s}:${i}`);
    }));
    const expected = senders.length * perSender;

    const steadyBodies: string[] = [];
    const flakyBodies: string[] = [];
    let flakyCursor = start.cursor;
    while (flakyBodies.length < expected) {
      const event = (await flaky.next(10_000)).data!.channelEvents;
      flakyBodies.push(event.message!.body);
      flakyCursor = event.cursor;
      if (flakyBodies.length % 7 === 0) {
        await flaky.close();
        flaky = subscribe(server.wsUrl, patient.token, ChannelEventsDocument, { channelId: channel.id, after: flakyCursor });
      }
    }
    while (steadyBodies.length < expected) steadyBodies.push((await steady.next(10_000)).data!.channelEvents.message!.body);
    await sending;

    for (const bodies of [steadyBodies, flakyBodies]) {
      expect(new Set(bodies).size).toBe(expected);
      // Each sender's messages arrive in the order they were sent.
      for (let s = 0; s < senders.length; s++) {
        const mine = bodies.filter((body) => body.startsWith(`${s}:`));
        expect(mine).toEqual(Array.from({ length: perSender }, (_, i) => `${s}:${i}`));
      }
    }
    expect(flakyBodies).toEqual(steadyBodies);
    await steady.expectSilence(200);
    await Promise.all([steady.close(), flaky.close()]);
  });
});

describe('retention', () => {
  // pruneEventLog prunes every organisation of its database: on the run's shared database it
  // expired the cursors of files running beside this one (defences.test.ts's inbox replay got
  // CURSOR_EXPIRED). Here it runs on a database of its own.
  let database: OwnDatabase;
  let server: TestServer;
  let org: TestOrganisation;
  let clinician: Person;
  const { activate, post } = actions(() => server);
  beforeAll(async () => {
    database = await createOwnDatabase('retention');
    server = await startTestServer({}, undefined, { databaseUrl: database.url });
    org = await createOrganisation(server);
    clinician = await org.addStaff('Dr Retention');
  });
  afterAll(async () => {
    await server.close();
    await database.drop();
  });

  it('a cursor older than the history kept gets CURSOR_EXPIRED, on channel and inbox streams; a current one still works', async () => {
    const patient = await org.addPatient('Old Cursor Patient');
    const channel = await activate(clinician, patient);
    const old = await post(patient, channel.id, 'long ago');
    const inbox = subscribe(server.wsUrl, clinician.token, InboxEventsDocument, {});
    await eventually(() => server.deps.live.streamCount > 0);
    await post(patient, channel.id, 'also long ago');
    const inboxCursor = (await inbox.next()).data!.inboxEvents.cursor;
    await inbox.close();
    await post(patient, channel.id, 'still long ago');

    await pruneEventLog(server.orm, new Date(Date.now() + 1000));
    const recent = await post(patient, channel.id, 'recent');

    expect(await subscribe(server.wsUrl, clinician.token, ChannelEventsDocument, { channelId: channel.id, after: old.cursor }).endCodes()).toEqual(['CURSOR_EXPIRED']);
    expect(await subscribe(server.wsUrl, clinician.token, InboxEventsDocument, { after: inboxCursor }).endCodes()).toEqual(['CURSOR_EXPIRED']);

    const current = subscribe(server.wsUrl, clinician.token, ChannelEventsDocument, { channelId: channel.id, after: recent.cursor });
    await post(patient, channel.id, 'after the recent one');
    expect((await current.next()).data!.channelEvents.message!.body).toBe('after the recent one');
    await current.close();
  });
});

describe('per-connection limits', () => {
  it('allowed up to WS_MAX_SUBSCRIPTIONS on one connection; denied beyond with TOO_MANY_SUBSCRIPTIONS', async () => {
    const patient = await org.addPatient('Limit Patient');
    const channel = await activate(clinician, patient);
    const first = subscribe(server.wsUrl, clinician.token, ChannelEventsDocument, { channelId: channel.id });
    const query = print(ChannelEventsDocument);
    const results: Array<{ errors?: Array<{ extensions?: { code?: string } }> }> = [];
    const sinks = [1, 2, 3].map(() =>
      first.client.subscribe({ query, variables: { channelId: channel.id } }, { next: (value) => results.push(value as never), error: (error) => results.push({ errors: error as never }), complete: () => undefined }),
    );
    await eventually(() => results.length >= 1);
    expect(results.map((result) => result.errors?.[0]?.extensions?.code)).toEqual(['TOO_MANY_SUBSCRIPTIONS']);
    await post(patient, channel.id, 'the first three still work');
    expect((await first.next()).data!.channelEvents.message!.body).toBe('the first three still work');
    sinks.forEach((dispose) => dispose());
    await first.close();
  });

  it('a client that stops reading is closed with 1013 (retry and resume), not left with dropped events', async () => {
    const patient = await org.addPatient('Slow Patient');
    const channel = await activate(clinician, patient);
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${clinician.token}` } })));
      socket.on('message', (data) => {
        if (JSON.parse(String(data)).type === 'connection_ack') resolve();
      });
    });
    const before = server.deps.live.streamCount;
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: print(ChannelEventsDocument), variables: { channelId: channel.id } } }));
    await eventually(() => server.deps.live.streamCount > before);
    // Stop reading: the server's sends back up once the kernel buffers are full.
    (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    // Enough to fill the kernel's socket buffers on both sides, then one more send waits.
    const body = 'x'.repeat(190_000);
    for (let sent = 0; sent < 50; sent++) await post(patient, channel.id, body);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    (socket as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(1013);
  }, 60_000);
});
