import path from 'node:path';
import readline from 'node:readline';
import { spawn, type ChildProcess } from 'node:child_process';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { buildCommit } from './baseline-build';
import { addPatient, addStaff, benchDatabase, benchEnvironment, createBenchOrganisation, graphql, intFromEnv, residentBytes, sleep, type BenchOrganisation } from './support';

/**
 * The live feed's memory under a steady multi-tenant load (`npm run bench`, after the live bench):
 * BENCH_SOAK_ORGS organisations (50), each with a care-team channel and four live subscribers
 * (the patient's and the clinician's channel stream, and each one's inbox), and a clinician in each
 * sending one message at a time, BENCH_SOAK_RATE messages a second in all (100), for
 * BENCH_SOAK_SECONDS (180), with the feeds' budget at BENCH_SOAK_BUDGET_MB (8: small enough to
 * be reached well before the end).
 *
 * Figures:
 * - memory per buffered event: the server's heap after a full collection, before and after a
 *   round of messages that all fit in the buffers, divided by their number;
 * - resident memory sampled every 2 s, each after a full collection: its growth over the last
 *   third of the run (must be < 5%);
 * - the heap after a full collection at the end, within the heap once every stream is connected
 *   plus the budget plus the caches bounded by count (V8 keeps collected space resident, so
 *   resident memory sits above this by its heap's headroom);
 * - every subscriber gets every message of its organisation once, in order (lost, duplicated,
 *   out of order: must all be 0).
 */
const sizes = {
  orgs: intFromEnv('BENCH_SOAK_ORGS', 50),
  rate: intFromEnv('BENCH_SOAK_RATE', 100),
  seconds: intFromEnv('BENCH_SOAK_SECONDS', 180),
  budgetMb: intFromEnv('BENCH_SOAK_BUDGET_MB', 8),
};
/**
 * Messages per organisation in each of the two rounds that measure memory per buffered event:
 * 1,000 in all, so that the first fills what is kept per recent execution whatever the buffers
 * hold (2,000 shared results: two visibility classes per message here).
 */
const ROUND = Math.ceil(1_000 / sizes.orgs);
const SAMPLE_EVERY_MS = 2_000;

const CHANNEL_EVENTS = 'subscription($c: ID!) { channelEvents(channelId: $c) { cursor type message { id body createdAt author { __typename ... on TeamMember { id name } } } } }';
const INBOX_EVENTS = 'subscription { inboxEvents { cursor type message { id } } }';
const SEND = 'mutation($i: MessageSendInput!) { messageSend(input: $i) { message { id } userErrors { code message } } }';
const BODY = 'Your results are back and look fine. Please book a follow-up in about six weeks so we can check how the new dose is working for you; call us sooner if anything changes. ';

interface Tenant {
  org: BenchOrganisation;
  staffToken: string;
  channelId: string;
  sent: string[];
  streams: Array<{ client: Client; ids: string[] }>;
}

/** Our server in its own process, with a full collection and a heap reading on SIGUSR2 (bench/collect-on-signal.ts). */
interface FeedLog {
  feeds: number;
  bufferedBytes: number;
  evictedEvents: number;
  evictions: number;
}

async function startServer(databaseUrl: string): Promise<{ child: ChildProcess; url: string; heapAfterCollection(): Promise<number>; feedLog: FeedLog[] }> {
  const env = {
    ...benchEnvironment({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'debug', LIVE_FEED_MEMORY_MB: String(sizes.budgetMb), WS_MAX_SUBSCRIPTIONS: '10' }),
    PATH: process.env.PATH ?? '',
    NODE_OPTIONS: `--expose-gc --require ${path.join(__dirname, 'collect-on-signal.js')}`,
  };
  // BENCH_SOAK_COMMIT: soak an earlier commit instead (built beside this checkout), for a before and after.
  const main = process.env.BENCH_SOAK_COMMIT ? (await buildCommit(process.env.BENCH_SOAK_COMMIT)).main : path.join(__dirname, '..', 'src', 'main.js');
  const child = spawn(process.execPath, [main], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! });
  const heaps: Array<(bytes: number) => void> = [];
  const feedLog: FeedLog[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    lines.on('line', (line) => {
      const heap = /^collected heap (\d+)$/.exec(line);
      if (heap) heaps.shift()?.(Number(heap[1]));
      else if (line.includes('"msg":"listening"')) resolve((JSON.parse(line) as { url: string }).url);
      else if (line.includes('"msg":"live feed memory"')) feedLog.push(JSON.parse(line) as FeedLog);
    });
  });
  const heapAfterCollection = () =>
    new Promise<number>((resolve) => {
      heaps.push(resolve);
      child.kill('SIGUSR2');
    });
  return { child, url, heapAfterCollection, feedLog };
}

async function setUpTenant(url: string): Promise<Tenant> {
  const org = await createBenchOrganisation(url);
  const staff = await addStaff(url, org, 'Soak clinician');
  const patient = await addPatient(url, org, 'Soak patient');
  const channelId = (await graphql(url, staff.token, 'mutation($i: ChannelActivateInput!) { channelActivate(input: $i) { channel { id } } }', { i: { patientId: patient.id, kind: 'CARE_TEAM' } }))
    .channelActivate.channel.id;
  const wsUrl = url.replace('http', 'ws');
  const streams: Tenant['streams'] = [];
  for (const [bearer, query] of [
    [staff.token, CHANNEL_EVENTS],
    [patient.token, CHANNEL_EVENTS],
    [staff.token, INBOX_EVENTS],
    [patient.token, INBOX_EVENTS],
  ] as const) {
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${bearer}` }, retryAttempts: 0, lazy: true });
    const stream = { client, ids: [] as string[] };
    client.subscribe(
      { query, variables: query === CHANNEL_EVENTS ? { c: channelId } : {} },
      {
        next: ({ data }) => {
          const event = (data as Record<string, { message?: { id: string } | null }>)[query === CHANNEL_EVENTS ? 'channelEvents' : 'inboxEvents'];
          if (event?.message) stream.ids.push(event.message.id);
        },
        error: (error) => {
          throw new Error(`soak: a stream failed: ${JSON.stringify(error)}`);
        },
        complete: () => undefined,
      },
    );
    streams.push(stream);
  }
  return { org, staffToken: staff.token, channelId, sent: [], streams };
}

async function send(url: string, tenant: Tenant, index: number): Promise<void> {
  const { messageSend } = await graphql(url, tenant.staffToken, SEND, { i: { channelId: tenant.channelId, body: `${index}. ${BODY}` } });
  if (messageSend.userErrors.length) throw new Error(`soak: send refused ${JSON.stringify(messageSend.userErrors)}`);
  tenant.sent.push(messageSend.message.id);
}

/** Waits until every stream has as many messages as its organisation sent (or the deadline). */
async function drained(tenants: Tenant[], ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && tenants.some((tenant) => tenant.streams.some((stream) => stream.ids.length < tenant.sent.length))) await sleep(50);
}

/**
 * Streams opened without a resume cursor start wherever the server is when it sets them up: one
 * message per organisation at a time until every stream has had its organisation's latest (so
 * every later one reaches it), then the counts start from zero. This also warms the code paths.
 */
async function confirmStreams(url: string, tenants: Tenant[]): Promise<void> {
  const confirmed = () => tenants.every((tenant) => tenant.streams.every((stream) => stream.ids.includes(tenant.sent[tenant.sent.length - 1])));
  for (let attempt = 0; attempt < 30 && !confirmed(); attempt++) {
    await round(url, tenants, 1);
    const deadline = Date.now() + 2_000;
    while (Date.now() < deadline && !confirmed()) await sleep(20);
  }
  if (!confirmed()) throw new Error('soak: streams did not confirm');
  for (const tenant of tenants) {
    tenant.sent.length = 0;
    for (const stream of tenant.streams) stream.ids.length = 0;
  }
}

/** Sends `perTenant` messages in every organisation, one at a time in each, all organisations at once. */
async function round(url: string, tenants: Tenant[], perTenant: number): Promise<void> {
  await Promise.all(
    tenants.map(async (tenant) => {
      for (let i = 0; i < perTenant; i++) await send(url, tenant, tenant.sent.length);
    }),
  );
}

/**
 * Steady sends at `rate` a second in all, for `seconds`, each organisation one at a time; samples
 * resident memory every 2 s, each after a full collection: otherwise what grows over a short run
 * is garbage V8 has not collected yet, not what the process keeps.
 */
async function steady(url: string, resident: () => Promise<number>, tenants: Tenant[], rate: number, seconds: number): Promise<{ samples: number[]; achieved: number }> {
  const samples: number[] = [await resident()];
  const sampler = setInterval(() => void resident().then((bytes) => samples.push(bytes)), SAMPLE_EVERY_MS);
  const started = Date.now();
  const end = started + seconds * 1000;
  const busy = new Set<Tenant>();
  let next = 0;
  let sent = 0;
  const failures: Error[] = [];
  try {
    while (Date.now() < end && failures.length === 0) {
      // The schedule: message n goes out at started + n / rate.
      const due = started + (sent * 1000) / rate;
      if (Date.now() < due) {
        await sleep(Math.min(20, due - Date.now()));
        continue;
      }
      const tenant = tenants[next++ % tenants.length];
      if (busy.has(tenant)) {
        await sleep(1);
        continue;
      }
      busy.add(tenant);
      sent += 1;
      void send(url, tenant, tenant.sent.length).then(
        () => busy.delete(tenant),
        (error: Error) => failures.push(error),
      );
    }
    while (busy.size > 0 && failures.length === 0) await sleep(10);
    if (failures.length) throw failures[0];
  } finally {
    clearInterval(sampler);
  }
  samples.push(await resident());
  return { samples, achieved: Math.round(sent / ((Date.now() - started) / 1000)) };
}

/** Lost, duplicated and out-of-order messages, over every stream, against what its organisation sent. */
function deliveryOf(tenants: Tenant[]) {
  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  for (const tenant of tenants) {
    const order = new Map(tenant.sent.map((id, index) => [id, index]));
    for (const stream of tenant.streams) {
      const seen = new Set<string>();
      let last = -1;
      for (const id of stream.ids) {
        if (seen.has(id)) duplicated += 1;
        seen.add(id);
        const at = order.get(id) ?? -1;
        if (at < last) outOfOrder += 1;
        last = Math.max(last, at);
      }
      lost += tenant.sent.filter((id) => !seen.has(id)).length;
    }
  }
  return { lost, duplicated, outOfOrder };
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  console.log(`\nsoak sizes: ${JSON.stringify(sizes)}`);
  const database = await benchDatabase();
  const server = await startServer(database.url);
  const tenants: Tenant[] = [];
  try {
    for (let i = 0; i < sizes.orgs; i++) tenants.push(await setUpTenant(server.url));
    await confirmStreams(server.url, tenants);
    await sleep(1_000);
    const connectedHeap = await server.heapAfterCollection();
    const connected = await residentBytes(server.child.pid!);

    // Memory per buffered event: two rounds that both fit in every buffer. The first also fills
    // what is kept per recent event whatever the buffers hold (the shared results of the last
    // 2,000 executions), so the heap between the two is what the buffers keep.
    await round(server.url, tenants, ROUND);
    await drained(tenants);
    await sleep(1_000);
    const heapBefore = await server.heapAfterCollection();
    await round(server.url, tenants, ROUND);
    await drained(tenants);
    await sleep(1_000);
    const heapAfter = await server.heapAfterCollection();
    const buffered = sizes.orgs * ROUND;
    const perEvent = (heapAfter - heapBefore) / buffered;

    const residentAfterCollection = async () => {
      await server.heapAfterCollection();
      return residentBytes(server.child.pid!);
    };
    const run = await steady(server.url, residentAfterCollection, tenants, sizes.rate, sizes.seconds);
    await drained(tenants);
    await sleep(1_000);
    const endHeap = await server.heapAfterCollection();
    const delivery = deliveryOf(tenants);
    const messages = tenants.reduce((sum, tenant) => sum + tenant.sent.length, 0);
    const { samples } = run;
    // The last third's two halves, each by its median: resident memory swings with when V8
    // collects, and a median follows what is kept rather than one reading's garbage.
    const lastThird = samples.slice(samples.length - Math.max(2, Math.floor(samples.length / 3)));
    const half = Math.floor(lastThird.length / 2);
    const lastThirdStart = median(lastThird.slice(0, half));
    const lastThirdEnd = median(lastThird.slice(lastThird.length - half));
    const growth = (lastThirdEnd - lastThirdStart) / lastThirdStart;
    const peak = Math.max(...samples);
    // What the process keeps whatever the feeds hold: the shared results of the last 2,000 executions (about 1 KiB each) and the feeds' tables of repeated values.
    const bounded = 4 * 1024 * 1024;
    const ceiling = connectedHeap + sizes.budgetMb * 1024 * 1024 + bounded;
    const feeds = server.feedLog[server.feedLog.length - 1];

    console.log(`soak: ${sizes.orgs} organisations, ${sizes.orgs * 4} live streams, ${messages} messages (${run.achieved}/s steady for ${sizes.seconds} s), feed budget ${sizes.budgetMb} MiB`);
    console.log(`  memory per buffered event: ${(perEvent / 1024).toFixed(2)} KiB (heap after a full collection, ${buffered} events of ~${BODY.length + 5}-byte messages)`);
    if (feeds) console.log(`  the feeds' own account at the end: ${feeds.feeds} feeds, ${mib(feeds.bufferedBytes)} MiB buffered, ${feeds.evictedEvents} events evicted for the budget`);
    console.log(`  heap after a full collection: ${mib(connectedHeap)} MiB with every stream connected, ${mib(endHeap)} MiB at the end; ceiling (connected + budget + ${mib(bounded)} MiB bounded caches) ${mib(ceiling)} MiB: ${endHeap <= ceiling ? 'within' : 'OVER'}`);
    console.log(`  resident memory: ${mib(connected)} MiB with every stream connected, ${mib(samples[0])} MiB at the start of the steady run, peak ${mib(peak)} MiB, end ${mib(samples[samples.length - 1])} MiB`);
    console.log(`  resident memory every 2 s after a full collection (MiB): ${samples.map(mib).join(' ')}`);
    console.log(`  resident growth over the last third (median of its second half against its first): ${(growth * 100).toFixed(1)}% (must be < 5%)`);
    console.log(`  lost ${delivery.lost}, duplicated ${delivery.duplicated}, out of order ${delivery.outOfOrder}`);
    const failures = [
      delivery.lost + delivery.duplicated + delivery.outOfOrder > 0 && 'delivery',
      growth >= 0.05 && 'resident memory still growing',
      endHeap > ceiling && 'heap over connected + budget',
    ].filter(Boolean);
    if (failures.length) throw new Error(`soak failed: ${failures.join(', ')}`);
  } finally {
    await Promise.all(tenants.flatMap((tenant) => tenant.streams.map((stream) => stream.client.dispose())));
    server.child.kill('SIGTERM');
    await database.stop();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
