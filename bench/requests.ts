import path from 'node:path';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';
import { Client as PgClient } from 'pg';
import { addPatient, addStaff, benchDatabase, benchEnvironment, cpuMs, createBenchOrganisation, graphql, intFromEnv, sleep, spawnNode } from './support';
import { buildCommit, installPostGraphile } from './baseline-build';

/**
 * The cost of a request, each figure a ratio against a baseline started here in the same run
 * (absolute numbers on a shared 2-core machine are noise; ratios are not):
 * - authenticated `{ __typename }` against bare Apollo Server 5 standalone;
 * - the newest page of 50 messages of a 2,000-message channel, as a member, against PostGraphile 4
 *   reading the same table of the same database;
 * - `messageSend` throughput against the commit before this work (BENCH_COMPARE_COMMIT), built
 *   here and run against a database of its own;
 * - the server CPU an anonymous document of 30,000 repeated directives costs before it is refused,
 *   against the same commit (which parsed and validated it all).
 * Load: autocannon, BENCH_REQUEST_CONNECTIONS (32) connections for BENCH_REQUEST_SECONDS (5) each.
 */
const sizes = {
  seconds: intFromEnv('BENCH_REQUEST_SECONDS', 5),
  connections: intFromEnv('BENCH_REQUEST_CONNECTIONS', 32),
  history: 2_000,
  sendChannels: intFromEnv('BENCH_SEND_CHANNELS', 16),
};
const COMPARE_COMMIT = process.env.BENCH_COMPARE_COMMIT ?? '66b8415';
/**
 * BENCH_SERVER_NODE_OPTIONS: Node options for our server, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
 * or `--heap-prof`; the server is then stopped gracefully, which is when Node writes profiles.
 */
const SERVER_NODE_OPTIONS = process.env.BENCH_SERVER_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [];
/** BENCH_ONLY: a comma-separated subset of typename, page, send (all by default). */
const ONLY = new Set((process.env.BENCH_ONLY ?? 'typename,page,send').split(','));

const TYPENAME = JSON.stringify({ query: '{ __typename }' });
const PAGE = 'query($c: ID!) { channel(id: $c) { messages(last: 50) { edges { node { id body createdAt } } } } }';
const PEER_PAGE = 'query($c: UUID!, $o: UUID!) { allMessages(condition: { channelId: $c, organisationId: $o }, orderBy: SEQ_DESC, first: 50) { nodes { id body createdAt } } }';
const SEND = 'mutation($i: MessageSendInput!) { messageSend(input: $i) { message { id } userErrors { code } } }';

interface Load {
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string, requests: Array<{ body: string; headers?: Record<string, string> }>): Promise<Load> {
  let next = 0;
  const result = await autocannon({
    url,
    method: 'POST',
    connections: sizes.connections,
    duration: sizes.seconds,
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request: Record<string, any>) => {
          const chosen = requests[next++ % requests.length];
          return { ...request, body: chosen.body, headers: { ...request.headers, ...chosen.headers } };
        },
      },
    ],
  });
  return { perSecond: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx };
}

/**
 * Sends one of the requests and checks its answer before anything is measured: a baseline that
 * answers with an error (a misinstalled peer does, with HTTP 200) would be measured as fast.
 */
async function expectAnswer(url: string, request: { body: string; headers?: Record<string, string> }, check: (data: Record<string, any>) => boolean, what: string) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...request.headers }, body: request.body });
  const answer = (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
  if (!response.ok || answer.errors?.length || !answer.data || !check(answer.data)) throw new Error(`${what} did not answer as expected: ${JSON.stringify(answer).slice(0, 500)}`);
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });

/** Starts a build of the server (dist/src/main.js) in its own process and waits until it is ready. */
async function startServerProcess(main: string, databaseUrl: string, nodeOptions: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const env = { ...benchEnvironment({ DATABASE_URL: databaseUrl, PORT: String(port), LOG_LEVEL: 'warn' }), PATH: process.env.PATH ?? '' };
  const child = spawn(process.execPath, [...nodeOptions, main], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 600; attempt++) {
    if (child.exitCode !== null) throw new Error(`${main} exited with ${child.exitCode}`);
    const ready = await fetch(`${base}/readyz`).then((response) => response.ok, () => false);
    if (ready) return { child, url: `${base}/graphql` };
    await sleep(100);
  }
  throw new Error(`${main} did not become ready`);
}

/** An organisation with a clinician, a patient, their care-team channel with `history` messages, and channels to send into. */
async function seed(url: string, databaseUrl: string) {
  const org = await createBenchOrganisation(url);
  const staff = await addStaff(url, org, 'Bench clinician');
  const activate = async (patientId: string) =>
    (await graphql(url, staff.token, 'mutation($i: ChannelActivateInput!) { channelActivate(input: $i) { channel { id } } }', { i: { patientId, kind: 'CARE_TEAM' } })).channelActivate.channel.id as string;
  const patient = await addPatient(url, org, 'Bench patient');
  const pageChannel = await activate(patient.id);
  const db = new PgClient({ connectionString: databaseUrl });
  await db.connect();
  await db.query(
    `insert into message (organisation_id, id, channel_id, seq, author_team_member_id, body, created_at)
     select $1, gen_random_uuid(), $2, c.last_seq + s, $3, 'Message ' || s || ': your appointment and results, see you soon', now() - make_interval(secs => $4 - s)
       from channel c, generate_series(1, $4::int) s where c.organisation_id = $1 and c.id = $2`,
    [org.id, pageChannel, staff.id, sizes.history],
  );
  await db.query('update channel set last_seq = last_seq + $3 where organisation_id = $1 and id = $2', [org.id, pageChannel, sizes.history]);
  await db.query('analyze');
  await db.end();
  const sendChannels: string[] = [];
  for (let i = 0; i < sizes.sendChannels; i++) sendChannels.push(await activate((await addPatient(url, org, `Send patient ${i}`)).id));
  return { org, staff, patient, pageChannel, sendChannels };
}

const sendRequests = (token: string, channels: string[]) =>
  channels.map((channelId, index) => ({
    body: JSON.stringify({ query: SEND, variables: { i: { channelId, body: `Bench message ${index}: see you at the clinic on Tuesday` } } }),
    headers: { authorization: `Bearer ${token}` },
  }));

function row(what: string, ours: Load, base: Load, baseName: string): string {
  const ratio = (ours.perSecond / base.perSecond).toFixed(2);
  return [
    `${what}:`,
    `  ours:   ${ours.perSecond} req/s, p50 ${ours.p50} ms, p99 ${ours.p99} ms${ours.errors ? `, ${ours.errors} errors` : ''}`,
    `  ${baseName.padEnd(7)} ${base.perSecond} req/s, p50 ${base.p50} ms, p99 ${base.p99} ms${base.errors ? `, ${base.errors} errors` : ''}`,
    `  ratio ours/${baseName.replace(':', '').trim()}: ${ratio}`,
  ].join('\n');
}

async function main() {
  console.log(`sizes: ${JSON.stringify({ ...sizes, compare: COMPARE_COMMIT })}`);
  const children: ChildProcess[] = [];
  const databases: Array<{ stop(): Promise<void> }> = [];
  try {
    const db = await benchDatabase();
    databases.push(db);
    const ours = await startServerProcess(path.join(__dirname, '..', 'src', 'main.js'), db.url, SERVER_NODE_OPTIONS);
    children.push(ours.child);
    const seeded = await seed(ours.url, db.url);
    const bare = await spawnNode(path.join(__dirname, 'bare-apollo-server.js'), {}, (line) => (line.startsWith('http') ? line.trim() : undefined));
    children.push(bare.child);
    const peer = await spawnNode(path.join(__dirname, 'postgraphile-server.js'), { DATABASE_URL: db.url, POSTGRAPHILE_DIR: await installPostGraphile() }, (line) =>
      line.startsWith('http') ? line.trim() : undefined,
    );
    children.push(peer.child);
    const auth = { authorization: `Bearer ${seeded.staff.token}` };

    const measured: Load[] = [];
    if (ONLY.has('typename')) {
      await expectAnswer(ours.url, { body: TYPENAME, headers: auth }, (data) => data.__typename === 'Query', 'our server');
      await expectAnswer(bare.value, { body: TYPENAME }, (data) => data.__typename === 'Query', 'bare Apollo Server');
      // Warm both sides (JIT, pools, caches) before measuring.
      await load(ours.url, [{ body: TYPENAME, headers: auth }]);
      const typenameOurs = await load(ours.url, [{ body: TYPENAME, headers: auth }]);
      const typenameBare = await load(bare.value, [{ body: TYPENAME }]);
      measured.push(typenameOurs);
      console.log(row('authenticated { __typename }', typenameOurs, typenameBare, 'apollo:'));
    }

    if (ONLY.has('page')) {
      const pageBody = JSON.stringify({ query: PAGE, variables: { c: seeded.pageChannel } });
      const peerBody = JSON.stringify({ query: PEER_PAGE, variables: { c: seeded.pageChannel, o: seeded.org.id } });
      const patientAuth = { authorization: `Bearer ${seeded.patient.token}` };
      await expectAnswer(ours.url, { body: pageBody, headers: patientAuth }, (data) => data.channel?.messages?.edges?.length === 50, 'our server');
      await expectAnswer(peer.value, { body: peerBody }, (data) => data.allMessages?.nodes?.length === 50, 'PostGraphile');
      await load(ours.url, [{ body: pageBody, headers: patientAuth }]);
      await load(peer.value, [{ body: peerBody }]);
      const pageOurs = await load(ours.url, [{ body: pageBody, headers: patientAuth }]);
      const pagePeer = await load(peer.value, [{ body: peerBody }]);
      measured.push(pageOurs);
      console.log(row(`newest 50 of ${sizes.history} messages, as the patient`, pageOurs, pagePeer, 'pg4:'));
    }
    if (ONLY.has('send')) await compareSends({ url: ours.url, pid: ours.child.pid! }, seeded, measured, children, databases);
    if (SERVER_NODE_OPTIONS.length) await stopAndWait(ours.child);
    if (measured.some((result) => result.errors)) throw new Error('requests failed during the bench');
  } finally {
    for (const child of children) child.kill();
    for (const db of databases) await db.stop().catch(() => undefined);
  }
}

/** SIGTERM, then the graceful shutdown's exit (which is when `--cpu-prof` writes its profile). */
const stopAndWait = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

/**
 * `messageSend` against the commit before this work, each warmed first and measured while the
 * other is idle: the baseline first (then stopped), ours after it.
 */
async function compareSends(ours: { url: string; pid: number }, seeded: Awaited<ReturnType<typeof seed>>, measured: Load[], children: ChildProcess[], databases: Array<{ stop(): Promise<void> }>) {
  const sent = (data: Record<string, any>) => Boolean(data.messageSend?.message?.id) && data.messageSend.userErrors.length === 0;
  let sendThen: Load | undefined;
  let refusalThen: number | undefined;
  const built = COMPARE_COMMIT === 'none' ? undefined : await buildCommit(COMPARE_COMMIT).catch((error: Error) => {
    console.log(`messageSend comparison skipped: ${COMPARE_COMMIT} could not be built here (${error.message.split('\n')[0]})`);
    return undefined;
  });
  if (built) {
    const thenDb = await benchDatabase();
    databases.push(thenDb);
    const then = await startServerProcess(built.main, thenDb.url);
    children.push(then.child);
    const thenSeed = await seed(then.url, thenDb.url);
    const thenRequests = sendRequests(thenSeed.staff.token, thenSeed.sendChannels);
    await expectAnswer(then.url, thenRequests[0], sent, COMPARE_COMMIT);
    await load(then.url, thenRequests);
    sendThen = await load(then.url, thenRequests);
    refusalThen = await refusalCpu(then.url, then.child.pid!, DIRECTIVE_FLOOD, 3);
    then.child.kill();
  }
  const ourRequests = sendRequests(seeded.staff.token, seeded.sendChannels);
  await expectAnswer(ours.url, ourRequests[0], sent, 'our server');
  await load(ours.url, ourRequests);
  const sendOurs = await load(ours.url, ourRequests);
  console.log(sendThen ? row(`messageSend into ${sizes.sendChannels} channels`, sendOurs, sendThen, `${COMPARE_COMMIT}:`) : `messageSend: ${sendOurs.perSecond} req/s`);
  measured.push(sendOurs);
  const refusalOurs = await refusalCpu(ours.url, ours.pid, DIRECTIVE_FLOOD, 200);
  const tokensOurs = await refusalCpu(ours.url, ours.pid, TOKEN_FLOOD, 200);
  console.log(
    `anonymous 30,000-directive document (540 KB): ${refusalOurs.toFixed(2)} ms server CPU each before it is refused` +
      (refusalThen !== undefined ? `; ${COMPARE_COMMIT}: ${refusalThen.toFixed(0)} ms (ratio ${(refusalOurs / refusalThen).toFixed(4)})` : ''),
  );
  console.log(`anonymous 5,500-directive document (99 KB, refused at the token limit): ${tokensOurs.toFixed(2)} ms server CPU each`);
}

/** The document of the abuse report: 30,000 repeated directives (about 540 KB), sent with no token. */
const DIRECTIVE_FLOOD = JSON.stringify({ query: `{ __typename ${'@include(if: true) '.repeat(30_000)}}` });
/** The largest directive flood within the size limits: parsed until the token limit. */
const TOKEN_FLOOD = JSON.stringify({ query: `{ __typename ${'@include(if: true) '.repeat(5_500)}}` });

/** The server's CPU time (user + system, /proc) per refusal of `body`, over `count` sequential requests. */
async function refusalCpu(url: string, pid: number, body: string, count: number): Promise<number> {
  const send = () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const first = await send();
  if (first.status < 400 || first.status >= 500) throw new Error(`the flood was answered ${first.status}, not refused`);
  await first.arrayBuffer();
  const before = await cpuMs(pid);
  for (let index = 0; index < count; index++) await (await send()).arrayBuffer();
  return ((await cpuMs(pid)) - before) / count;
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
