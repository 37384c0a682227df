import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createClient, type Client } from 'graphql-ws';
import WebSocket, { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import {
  addPatient,
  addStaff,
  benchDatabase,
  benchEnvironment,
  createBenchOrganisation,
  graphql,
  intFromEnv,
  percentile,
  residentBytes,
  sleep,
  spawnNode,
  startBenchServer,
  token,
} from './support';
import type { RunningServer } from '../src/server';
import { startPlainServer } from './plain-graphql-ws-server';

/**
 * `npm run bench`: live delivery checked and measured in one run.
 * - delivery: concurrent senders into several channels while subscribers randomly disconnect
 *   and resume from their cursors; lost, duplicated and out-of-order counts (must all be 0).
 * - fan-out: one message to many subscribers of one group channel, beside a bare `ws` broadcast
 *   of the same payload to the same number of sockets and a plain graphql-ws + PubSub server
 *   publishing the same event shape (the ratios are the figures).
 * - memory: resident memory per idle authenticated subscriber beside a bare `ws` socket and a
 *   plain graphql-ws + PubSub subscription.
 * Sizes come from the environment (defaults: the full sizes); CI runs it small.
 */
const sizes = {
  senders: intFromEnv('BENCH_SENDERS', 20),
  channels: intFromEnv('BENCH_CHANNELS', 5),
  messages: intFromEnv('BENCH_MESSAGES', 10_000),
  fanout: intFromEnv('BENCH_FANOUT_SUBSCRIBERS', 1_000),
  rounds: intFromEnv('BENCH_FANOUT_ROUNDS', 20),
  idle: intFromEnv('BENCH_IDLE_SUBSCRIBERS', 1_000),
};

const EVENT_FIELDS = 'cursor type message { id body createdAt author { __typename ... on TeamMember { id name } ... on Patient { id displayName } } }';
const CHANNEL_EVENTS = `subscription($c: ID!, $a: String) { channelEvents(channelId: $c, after: $a) { ${EVENT_FIELDS} } }`;
const INBOX_EVENTS = 'subscription($a: String) { inboxEvents(after: $a) { cursor type message { id } } }';
const SEND = 'mutation($i: MessageSendInput!) { messageSend(input: $i) { message { id cursor } userErrors { code message } } }';

/** Sends a message and returns it; a refused send stops the bench with the reason. */
async function sendMessage(url: string, token: string, channelId: string, body: string): Promise<{ id: string; cursor: string }> {
  const { messageSend } = await graphql(url, token, SEND, { i: { channelId, body } });
  if (messageSend.userErrors.length) throw new Error(`messageSend refused: ${JSON.stringify(messageSend.userErrors)}`);
  return messageSend.message;
}

const wsClient = (url: string, bearer: string): Client =>
  createClient({ url, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${bearer}` }, retryAttempts: 0, lazy: true });

interface ResumingReader {
  ids: string[];
  reconnects: number;
  /** How many ids the reader held at each reconnection (to place a loss). */
  reconnectAt: number[];
  stop(): void;
}

/** Follows a stream, dropping its connection at random and resuming from the last cursor. */
function resumingReader(wsUrl: string, bearer: string, query: string, variables: Record<string, unknown>, pick: (data: any) => { cursor: string; id?: string }): ResumingReader {
  const reader: ResumingReader = { ids: [], reconnects: 0, reconnectAt: [], stop: () => (stopped = true) };
  let stopped = false;
  let cursor = variables.a as string | undefined;
  const open = () => {
    if (stopped) return;
    const client = wsClient(wsUrl, bearer);
    let budget = 1 + Math.floor(Math.random() * 400);
    // Once this connection is dropped, what it still receives is not read: the next one resumes
    // from the cursor as it was when this one was dropped (as a client that resumes must).
    let dropped = false;
    const reopen = () => {
      dropped = true;
      void client.dispose();
      reader.reconnects += 1;
      reader.reconnectAt.push(reader.ids.length);
      setTimeout(open, Math.floor(Math.random() * 50));
    };
    client.subscribe(
      { query, variables: { ...variables, a: cursor } },
      {
        next: (result) => {
          if (stopped) return void client.dispose();
          if (dropped) return;
          const item = pick(result.data);
          cursor = item.cursor;
          if (item.id) reader.ids.push(item.id);
          if (--budget === 0) reopen();
        },
        error: (error) => {
          if (!stopped && !dropped) {
            console.error('stream error', JSON.stringify(error));
            reopen();
          }
        },
        complete: () => undefined,
      },
    );
  };
  open();
  return reader;
}

function orderReport(received: string[], expected: string[]) {
  const rank = new Map(expected.map((id, index) => [id, index]));
  const unique = new Set(received);
  let outOfOrder = 0;
  for (let i = 1; i < received.length; i++) if ((rank.get(received[i]) ?? -1) <= (rank.get(received[i - 1]) ?? -1)) outOfOrder += 1;
  return { lost: expected.filter((id) => !unique.has(id)).length, duplicated: received.length - unique.size, outOfOrder };
}

async function deliveryCheck(server: RunningServer) {
  const org = await createBenchOrganisation(server.url);
  const senders = [];
  for (let i = 0; i < sizes.senders; i++) senders.push(await addStaff(server.url, org, `Sender ${i}`));
  const channels: Array<{ id: string; patient: { token: string }; anchor: string }> = [];
  for (let c = 0; c < sizes.channels; c++) {
    const patient = await addPatient(server.url, org, `Delivery patient ${c}`);
    const data = await graphql(server.url, senders[0].token, 'mutation($i: ChannelActivateInput!) { channelActivate(input: $i) { channel { id } } }', {
      i: { patientId: patient.id, kind: 'CARE_TEAM' },
    });
    const id = data.channelActivate.channel.id as string;
    for (const sender of senders.slice(1)) await graphql(server.url, sender.token, 'mutation($i: ChannelJoinInput!) { channelJoin(input: $i) { channel { id } } }', { i: { channelId: id } });
    const anchor = await sendMessage(server.url, senders[0].token, id, 'anchor');
    channels.push({ id, patient, anchor: anchor.cursor });
  }
  const opened = server.deps.live.streamCount;
  const readers = channels.map((channel) =>
    resumingReader(server.wsUrl, channel.patient.token, CHANNEL_EVENTS, { c: channel.id, a: channel.anchor }, (data) => ({ cursor: data.channelEvents.cursor, id: data.channelEvents.message?.id })),
  );
  // The inbox of a team member in every channel, resuming from its own cursors too.
  const inbox = resumingReader(server.wsUrl, senders[0].token, INBOX_EVENTS, {}, (data) => ({ cursor: data.inboxEvents.cursor, id: data.inboxEvents.message?.id }));
  // The inbox starts from "now" (no cursor): nothing is sent until every stream, the inbox's
  // included, has fixed its start; waiting for any one of them let the first messages precede
  // the inbox on a loaded machine (seen once: "lost 1" in 10,000).
  while (server.deps.live.streamCount < opened + readers.length + 1) await sleep(10);

  const perSender = Math.ceil(sizes.messages / sizes.senders);
  const started = Date.now();
  let sent = 0;
  await Promise.all(
    senders.map(async (sender, s) => {
      for (let i = 0; i < perSender && s * perSender + i < sizes.messages; i++) {
        const channel = channels[(s + i) % channels.length];
        await sendMessage(server.url, sender.token, channel.id, `m ${s}:${i}`);
        sent += 1;
      }
    }),
  );
  const sendSeconds = (Date.now() - started) / 1000;

  const em = server.orm.em.fork();
  const expectedByChannel = await Promise.all(
    channels.map(async (channel) =>
      (await em.execute<Array<{ id: string }>>("select id from message where organisation_id = ? and channel_id = ? and body <> 'anchor' order by seq", [org.id, channel.id])).map((row) => row.id),
    ),
  );
  const expectedInbox = (
    await em.execute<Array<{ id: string }>>(
      `select m.id from message m join channel_event e on e.organisation_id = m.organisation_id and e.message_id = m.id
        where m.organisation_id = ? and m.body <> 'anchor' order by e.position, e.channel_id, e.seq`,
      [org.id],
    )
  ).map((row) => row.id);
  const deadline = Date.now() + 60_000;
  const done = () => readers.every((reader, c) => new Set(reader.ids).size >= expectedByChannel[c].length) && new Set(inbox.ids).size >= expectedInbox.length;
  while (!done() && Date.now() < deadline) await sleep(50);
  await sleep(500); // let any duplicate show up
  for (const reader of [...readers, inbox]) reader.stop();

  const reports = readers.map((reader, c) => orderReport(reader.ids, expectedByChannel[c]));
  const inboxReport = orderReport(inbox.ids, expectedInbox);
  // A loss explains itself: the event, and where the reader was and reconnected around it.
  const describe = async (name: string, reader: ResumingReader, expected: string[]) => {
    const got = new Set(reader.ids);
    for (const [index, id] of expected.entries()) {
      if (got.has(id)) continue;
      const [event] = await em.execute<Array<Record<string, unknown>>>(
        'select e.position, e.channel_id, e.seq, e.created_at from channel_event e where e.organisation_id = ? and e.message_id = ? and e.type = ?',
        [org.id, id, 'MESSAGE_SENT'],
      );
      const previous = reader.ids.indexOf(expected[index - 1]);
      const nearby = reader.reconnectAt.filter((at) => Math.abs(at - previous) < 5);
      console.log(`  LOST by ${name}: message ${id} ${JSON.stringify(event)}, ${index + 1} of ${expected.length}; the one before it was received as #${previous}, reconnections at ${JSON.stringify(nearby)}`);
    }
  };
  for (const [c, reader] of readers.entries()) await describe(`channel ${c}`, reader, expectedByChannel[c]);
  await describe('inbox', inbox, expectedInbox);
  const sum = (key: 'lost' | 'duplicated' | 'outOfOrder') => reports.reduce((total, report) => total + report[key], 0) + inboxReport[key];
  return {
    sent,
    sendRate: Math.round(sent / sendSeconds),
    reconnects: [...readers, inbox].reduce((total, reader) => total + reader.reconnects, 0),
    lost: sum('lost'),
    duplicated: sum('duplicated'),
    outOfOrder: sum('outOfOrder'),
  };
}

async function fanOut(server: RunningServer) {
  const org = await createBenchOrganisation(server.url);
  const sender = await addStaff(server.url, org, 'Group lead');
  // 1,000 people are written directly (the API adds at most 200 per call); the channel is a
  // group like one made by groupChannelCreate.
  const em = server.orm.em.fork();
  const [{ id: channelId }] = await em.execute<Array<{ id: string }>>(
    "insert into channel (organisation_id, id, kind, title) values (?, gen_random_uuid(), 'GROUP', 'Bench group') returning id",
    [org.id],
  );
  await em.execute(
    `insert into team_member (organisation_id, id, external_id, name) select ?, gen_random_uuid(), 'fan-' || i, 'Member ' || i from generate_series(1, ?) i`,
    [org.id, sizes.fanout],
  );
  await em.execute(
    `insert into channel_member (organisation_id, id, channel_id, team_member_id)
     select organisation_id, gen_random_uuid(), ?, id from team_member where organisation_id = ?`,
    [channelId, org.id],
  );
  const receipts: number[][] = Array.from({ length: sizes.rounds }, () => []);
  const commits: number[] = [];
  let round = -1;
  let rawPayload = '';
  let warmed = 0;
  const stopWatching = server.deps.bus.subscribe((notice) => {
    if (notice.kind === 'events' && notice.organisationId === org.id && round >= 0) commits[round] = performance.now();
  });
  const clients: Client[] = [];
  const opened = server.deps.live.streamCount;
  for (let i = 1; i <= sizes.fanout; i++) {
    const client = wsClient(server.wsUrl, await token({ role: 'staff', org: org.slug, sub: `fan-${i}` }));
    clients.push(client);
    client.subscribe(
      { query: CHANNEL_EVENTS, variables: { c: channelId } },
      {
        next: (result) => {
          if ((result.data as any)?.channelEvents?.message?.body === 'warm-up') warmed += 1;
          const k = Number(String((result.data as any)?.channelEvents?.message?.body ?? '').split(' ')[1]);
          if (Number.isInteger(k) && k >= 0) receipts[k].push(performance.now());
          if (!rawPayload && Number.isInteger(k)) rawPayload = JSON.stringify({ id: '1', type: 'next', payload: result });
        },
        error: (error) => console.error('fan-out stream error', JSON.stringify(error)),
        complete: () => undefined,
      },
    );
    if (i % 100 === 0) while (server.deps.live.streamCount < opened + i) await sleep(5);
  }
  while (server.deps.live.streamCount < opened + sizes.fanout) await sleep(10);
  // One unmeasured round: each new subscription checks access in the database before its first
  // event (a one-time cost per subscription); the rounds measure steady delivery.
  await graphql(server.url, sender.token, SEND, { i: { channelId, body: 'warm-up' } });
  while (warmed < sizes.fanout) await sleep(5);
  const ours = await rounds(async (k) => {
    round = k;
    await graphql(server.url, sender.token, SEND, { i: { channelId, body: `round ${k}` } });
  }, receipts, commits);
  stopWatching();
  await Promise.all(clients.map((client) => client.dispose()));

  // The same payload, broadcast by a bare ws server to as many sockets.
  const bare = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => bare.once('listening', resolve));
  const bareReceipts: number[][] = Array.from({ length: sizes.rounds }, () => []);
  const bareSent: number[] = [];
  const sockets: WebSocket[] = [];
  for (let i = 0; i < sizes.fanout; i++) {
    const socket = new WebSocket(`ws://127.0.0.1:${(bare.address() as AddressInfo).port}`);
    socket.on('message', (data) => bareReceipts[Number(JSON.parse(String(data)).round)].push(performance.now()));
    sockets.push(socket);
    await new Promise((resolve) => socket.once('open', resolve));
  }
  const baseline = await rounds(async (k) => {
    bareSent[k] = performance.now();
    const payload = rawPayload.replace(/^\{/, `{"round":${k},`);
    for (const client of bare.clients) client.send(payload);
  }, bareReceipts, bareSent);
  for (const socket of sockets) socket.close();
  bare.close();
  return { ours, baseline, peer: await plainFanOut(), payloadBytes: rawPayload.length };
}

/** The same rounds through a plain graphql-ws + PubSub server (in memory, no database), publish → receipt. */
async function plainFanOut() {
  const plain = await startPlainServer();
  const receipts: number[][] = Array.from({ length: sizes.rounds }, () => []);
  const published: number[] = [];
  const clients: Client[] = [];
  let subscribed = 0;
  for (let i = 0; i < sizes.fanout; i++) {
    const client = createClient({ url: plain.url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, on: { connected: () => void (subscribed += 1) } });
    clients.push(client);
    client.subscribe(
      { query: CHANNEL_EVENTS, variables: { c: 'peer' } },
      {
        next: (result) => {
          const k = Number(String((result.data as any)?.channelEvents?.message?.body ?? '').split(' ')[1]);
          if (Number.isInteger(k) && k >= 0) receipts[k].push(performance.now());
        },
        error: (error) => console.error('peer stream error', JSON.stringify(error)),
        complete: () => undefined,
      },
    );
  }
  while (subscribed < sizes.fanout) await sleep(10);
  // graphql-ws subscribes right after connecting: let the last subscriptions reach the PubSub.
  await sleep(500);
  const event = (body: string) => ({
    cursor: 'cursor-of-the-event',
    type: 'MESSAGE_SENT',
    message: { id: '6f1c2b7e-0c1d-4f55-9d1e-2a7b8c9d0e1f', body, createdAt: new Date().toISOString(), author: { __typename: 'TeamMember', id: '1b2c3d4e-5f60-4a1b-8c2d-3e4f5a6b7c8d', name: 'Bench sender' } },
  });
  const result = await rounds(async (k) => {
    published[k] = performance.now();
    await plain.publish('peer', event(`round ${k}`));
  }, receipts, published);
  await Promise.all(clients.map((client) => client.dispose()));
  await plain.close();
  return result;
}

/** Runs the rounds one after another and summarises delivery latency and throughput. */
async function rounds(fire: (k: number) => Promise<void>, receipts: number[][], startedAt: number[]) {
  const latencies: number[] = [];
  let busy = 0;
  for (let k = 0; k < sizes.rounds; k++) {
    const began = performance.now();
    await fire(k);
    const deadline = Date.now() + 30_000;
    while (receipts[k].length < sizes.fanout && Date.now() < deadline) await sleep(1);
    if (receipts[k].length < sizes.fanout) throw new Error(`round ${k}: ${receipts[k].length} of ${sizes.fanout} delivered`);
    const origin = startedAt[k] ?? began;
    for (const at of receipts[k]) latencies.push(at - origin);
    busy += Math.max(...receipts[k]) - origin;
  }
  latencies.sort((a, b) => a - b);
  return { perSecond: Math.round((sizes.fanout * sizes.rounds) / (busy / 1000)), p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/**
 * Node options for every server the memory bench measures: full collections on SIGUSR2 before each
 * reading, and a young generation of fixed size (V8 grows it from 8 to 32 MiB under a burst of
 * allocation whenever that burst happens, which a per-socket figure would count as 24 KiB a socket).
 */
const MEASURED_NODE_OPTIONS = `--expose-gc --max-semi-space-size=1 --require ${path.join(__dirname, 'collect-on-signal.js')}`;

/** Collected heap (V8 heap in use after full collections) and resident memory of a measured server. */
interface Reading {
  heap: number;
  resident: number;
}

/**
 * Memory of a measured server after full collections: waits for the server to say it has collected
 * (a fixed pause read the resident size while collections were still running, on a busy machine).
 */
async function collectedReading(child: ChildProcess): Promise<Reading> {
  const heap = new Promise<number>((resolve) => {
    // A listener beside spawnNode's reader (a second readline would pause the pipe when closed).
    let pending = '';
    const onData = (chunk: Buffer) => {
      pending += chunk.toString();
      const match = /^collected heap (\d+)$/m.exec(pending);
      if (match) {
        child.stdout!.off('data', onData);
        resolve(Number(match[1]));
      } else pending = pending.slice(pending.lastIndexOf('\n') + 1);
    };
    child.stdout!.on('data', onData);
  });
  process.kill(child.pid!, 'SIGUSR2');
  const collected = await heap;
  await sleep(200);
  return { heap: collected, resident: await residentBytes(child.pid!) };
}

const perSubscriber = (before: Reading, after: Reading) => ({ heap: (after.heap - before.heap) / sizes.idle, resident: (after.resident - before.resident) / sizes.idle });

/**
 * Resident memory per idle subscriber, each server measured the same way: a reading after a full
 * collection, N subscriptions opened, one event delivered to every one of them (which confirms
 * it is in place), and a reading after a full collection again.
 */
async function memory(databaseUrl: string) {
  const main = path.join(__dirname, '..', 'src', 'main.js');
  // One person holds every idle connection here (a measurement, not abuse): the per-person cap is lifted.
  const env = {
    ...benchEnvironment({ LOG_LEVEL: 'info', DATABASE_URL: databaseUrl, WS_MAX_SUBSCRIPTIONS: '10', WS_MAX_CONNECTIONS_PER_PERSON: String(sizes.idle + 10) }),
    NODE_OPTIONS: MEASURED_NODE_OPTIONS,
  };
  const ours = await spawnNode(main, env, (line) => (line.includes('"msg":"listening"') ? (JSON.parse(line) as { url: string }).url : undefined));
  const url = ours.value;
  const wsUrl = url.replace('http', 'ws');
  const org = await createBenchOrganisation(url);
  const staff = await addStaff(url, org, 'Idle watcher');
  const patient = await addPatient(url, org, 'Idle patient');
  const channelId = (await graphql(url, staff.token, 'mutation($i: ChannelActivateInput!) { channelActivate(input: $i) { channel { id } } }', { i: { patientId: patient.id, kind: 'CARE_TEAM' } }))
    .channelActivate.channel.id;
  let failed = 0;
  // Each subscriber resumes after the newest message, so the next one reaches it however long
  // its connection takes: receiving it confirms the subscription is really in place.
  const subscribeIdle = (after: string) => {
    const client = wsClient(wsUrl, staff.token);
    const state = { client, received: 0 };
    client.subscribe(
      { query: CHANNEL_EVENTS, variables: { c: channelId, a: after } },
      { next: () => void (state.received += 1), error: () => void (failed += 1), complete: () => undefined },
    );
    return state;
  };
  const sendStep = async (body: string) => (await sendMessage(url, staff.token, channelId, body)).cursor;
  const confirmed = async (states: Array<{ received: number }>) => {
    const deadline = Date.now() + 60_000;
    while (states.some((state) => state.received === 0) && failed === 0 && Date.now() < deadline) await sleep(20);
    if (states.some((state) => state.received === 0)) throw new Error(`memory bench: subscribers did not confirm (${failed} failed)`);
  };
  // Warm up (code paths, pools), then measure.
  let cursor = await sendStep('before warm-up');
  const warm = subscribeIdle(cursor);
  cursor = await sendStep('warm-up');
  await confirmed([warm]);
  await sleep(1_000);
  const before = await collectedReading(ours.child);
  const states: Array<ReturnType<typeof subscribeIdle>> = [];
  for (let opened = 0; opened < sizes.idle; opened += 100) {
    states.push(...Array.from({ length: Math.min(100, sizes.idle - opened) }, () => subscribeIdle(cursor)));
    await sleep(100);
  }
  await sendStep('confirm');
  await confirmed(states);
  await sleep(1_000);
  const after = await collectedReading(ours.child);
  await Promise.all([warm, ...states].map((state) => state.client.dispose()));
  ours.child.kill('SIGTERM');

  const bare = await spawnNode(path.join(__dirname, 'bare-ws-server.js'), { NODE_OPTIONS: MEASURED_NODE_OPTIONS }, (line) => (/^\d+$/.test(line) ? line : undefined));
  await sleep(500);
  const bareBefore = await collectedReading(bare.child);
  const sockets: WebSocket[] = [];
  for (let i = 0; i < sizes.idle; i++) {
    const socket = new WebSocket(`ws://127.0.0.1:${bare.value}`);
    await new Promise((resolve) => socket.once('open', resolve));
    sockets.push(socket);
  }
  await sleep(1_000);
  const bareAfter = await collectedReading(bare.child);
  for (const socket of sockets) socket.close();
  bare.child.kill('SIGTERM');

  // The plain graphql-ws + PubSub server with as many idle subscriptions, confirmed by one published event (SIGUSR1).
  const plain = await spawnNode(path.join(__dirname, 'plain-graphql-ws-server.js'), { NODE_OPTIONS: MEASURED_NODE_OPTIONS }, (line) => (/^\d+$/.test(line) ? line : undefined));
  await sleep(500);
  const plainBefore = await collectedReading(plain.child);
  const plainStates: Array<{ client: Client; received: number }> = [];
  let connected = 0;
  for (let i = 0; i < sizes.idle; i++) {
    const client = createClient({ url: `ws://127.0.0.1:${plain.value}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, on: { connected: () => void (connected += 1) } });
    const state = { client, received: 0 };
    client.subscribe({ query: CHANNEL_EVENTS, variables: { c: 'idle' } }, { next: () => void (state.received += 1), error: () => void (failed += 1), complete: () => undefined });
    plainStates.push(state);
  }
  while (connected < sizes.idle) await sleep(20);
  // graphql-ws subscribes right after connecting: let the last subscriptions reach the PubSub.
  await sleep(1_000);
  plain.child.kill('SIGUSR1');
  await confirmed(plainStates);
  await sleep(1_000);
  const plainAfter = await collectedReading(plain.child);
  await Promise.all(plainStates.map((state) => state.client.dispose()));
  plain.child.kill('SIGTERM');
  return { ours: perSubscriber(before, after), bare: perSubscriber(bareBefore, bareAfter), plain: perSubscriber(plainBefore, plainAfter) };
}

async function main() {
  const database = await benchDatabase();
  const server = await startBenchServer(database.url);
  let failed = false;
  try {
    console.log(`sizes: ${JSON.stringify(sizes)}`);
    const only = new Set((process.env.BENCH_ONLY ?? 'delivery,fanout,memory').split(','));
    if (only.has('delivery')) {
    const delivery = await deliveryCheck(server);
    console.log(`\ndelivery check: ${delivery.sent} messages from ${sizes.senders} concurrent senders into ${sizes.channels} channels (${delivery.sendRate}/s), ${delivery.reconnects} random reconnects`);
    console.log(`  lost ${delivery.lost}, duplicated ${delivery.duplicated}, out of order ${delivery.outOfOrder}`);
    failed ||= delivery.lost + delivery.duplicated + delivery.outOfOrder > 0;
    }

    if (only.has('fanout')) {
    const fan = await fanOut(server);
    console.log(`\nfan-out: one message to ${sizes.fanout} subscribers of one group channel, ${sizes.rounds} rounds, payload ${fan.payloadBytes} bytes`);
    console.log(`  ours (commit → receipt): ${fan.ours.perSecond} deliveries/s, p50 ${fan.ours.p50.toFixed(1)} ms, p99 ${fan.ours.p99.toFixed(1)} ms`);
    console.log(`  bare ws broadcast:       ${fan.baseline.perSecond} deliveries/s, p50 ${fan.baseline.p50.toFixed(1)} ms, p99 ${fan.baseline.p99.toFixed(1)} ms`);
    console.log(`  plain graphql-ws + PubSub (publish → receipt, no database): ${fan.peer.perSecond} deliveries/s, p50 ${fan.peer.p50.toFixed(1)} ms, p99 ${fan.peer.p99.toFixed(1)} ms`);
    console.log(
      `  ratio ours/bare: throughput ${(fan.ours.perSecond / fan.baseline.perSecond).toFixed(2)}, p50 ${(fan.ours.p50 / fan.baseline.p50).toFixed(1)}x, p99 ${(fan.ours.p99 / fan.baseline.p99).toFixed(1)}x`,
    );
    console.log(`  ratio ours/plain graphql-ws: throughput ${(fan.ours.perSecond / fan.peer.perSecond).toFixed(2)}, p50 ${(fan.ours.p50 / fan.peer.p50).toFixed(1)}x`);
    }

    if (only.has('memory')) {
    const mem = await memory(database.url);
    const kib = (reading: { heap: number; resident: number }) => `${(reading.resident / 1024).toFixed(1)} KiB resident, ${(reading.heap / 1024).toFixed(1)} KiB collected heap`;
    console.log(`\nmemory per idle subscriber (${sizes.idle} sockets, each server read after full collections, with one event delivered to each subscriber):`);
    console.log(`  ours: ${kib(mem.ours)} (authenticated graphql-ws connection with one channelEvents subscription)`);
    console.log(`  bare ws socket: ${kib(mem.bare)}`);
    console.log(`  plain graphql-ws + PubSub subscription: ${kib(mem.plain)}`);
    console.log(`  ratio ours/bare (resident): ${(mem.ours.resident / mem.bare.resident).toFixed(1)}, ours/plain graphql-ws: resident ${(mem.ours.resident / mem.plain.resident).toFixed(2)}, collected heap ${(mem.ours.heap / mem.plain.heap).toFixed(2)}`);
    }
  } finally {
    await server.close();
    await database.stop();
  }
  if (failed) {
    console.error('\nFAILED: the delivery check lost, duplicated or reordered events');
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
