import { createOwnDatabase, type OwnDatabase } from './support/database';
import { startServerProcess, type ServerProcess } from './support/process';
import { createOrganisation, type Person } from './support/fixtures';
import { ok, subscribe, type Subscription } from './support/client';
import { ChannelActivateDocument, ChannelEventsDocument, ChannelJoinDocument, InboxEventsDocument, MessageSendDocument, type ChannelEventsSubscription, type InboxEventsSubscription } from './generated/graphql';

/**
 * Scaling out: three server processes on one database, events between them over PostgreSQL's
 * LISTEN/NOTIFY (the feeds' polling for lost notices is off here: the bus alone carries them). Messages sent through any of them reach every subscriber on every one of them,
 * each exactly once and in order.
 */
let database: OwnDatabase;
let servers: ServerProcess[] = [];

beforeAll(async () => {
  database = await createOwnDatabase('replicas');
  // The first applies the migrations; the others find them applied.
  servers.push(await startServerProcess(database.url, { EVENT_BUS: 'postgres', LIVE_POLL_MS: '600000' }));
  servers.push(...(await Promise.all([1, 2].map(() => startServerProcess(database.url, { EVENT_BUS: 'postgres', LIVE_POLL_MS: '600000' })))));
}, 90_000);
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  servers = [];
  await database?.drop();
});

it('three processes, one database: every message sent through any of them reaches every subscriber on each, once and in order', async () => {
  const org = await createOrganisation(servers[0]);
  const staff: Person[] = [];
  for (let index = 0; index < 3; index += 1) staff.push(await org.addStaff(`Dr Replica ${index}`));
  const patient = await org.addPatient('Replica Patient');
  const channel = (await ok(servers[0].url, staff[0].token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!;
  for (const member of staff.slice(1)) await ok(servers[1].url, member.token, ChannelJoinDocument, { input: { channelId: channel.id } });
  const anchor = (await ok(servers[0].url, staff[0].token, MessageSendDocument, { input: { channelId: channel.id, body: 'anchor' } })).messageSend.message!;

  // On each process: the patient's channel stream and a team member's inbox.
  const channelStreams: Array<Subscription<ChannelEventsSubscription>> = servers.map((server) => subscribe(server.wsUrl, patient.token, ChannelEventsDocument, { channelId: channel.id, after: anchor.cursor }));
  const inboxes: Array<Subscription<InboxEventsSubscription>> = servers.map((server, index) => subscribe(server.wsUrl, staff[index].token, InboxEventsDocument, {}));
  // Inboxes start live (from the next event): warm up until each has seen one, then let them go quiet.
  const warmed = new Set<number>();
  for (let round = 0; warmed.size < inboxes.length; round += 1) {
    if (round === 20) throw new Error('an inbox never received a message');
    await ok(servers[0].url, staff[0].token, MessageSendDocument, { input: { channelId: channel.id, body: 'warm-up' } });
    await Promise.all(inboxes.map(async (inbox, index) => (await inbox.next(500).then(() => warmed.add(index), () => undefined))));
  }
  const drain = async <T>(stream: Subscription<T>) => {
    for (;;) if (!(await stream.next(700).then(() => true, () => false))) return;
  };
  await Promise.all([...inboxes, ...channelStreams].map((stream) => drain(stream as Subscription<unknown>)));
  const warmUps = (await ok(servers[0].url, staff[0].token, MessageSendDocument, { input: { channelId: channel.id, body: 'start counting' } })).messageSend.message!;
  for (const inbox of inboxes) expect((await inbox.next(10_000)).data?.inboxEvents.message?.id).toBe(warmUps.id);
  for (const stream of channelStreams) expect((await stream.next(10_000)).data?.channelEvents.message?.id).toBe(warmUps.id);

  const sent: string[] = [];
  for (let index = 0; index < 30; index += 1) {
    const via = servers[index % 3];
    sent.push((await ok(via.url, staff[index % 3].token, MessageSendDocument, { input: { channelId: channel.id, body: `replica ${index}` } })).messageSend.message!.id);
  }
  const received = async <T>(stream: Subscription<T>, count: number, idOf: (data: T) => string | undefined) => {
    const ids: string[] = [];
    while (ids.length < count) {
      const id = idOf((await stream.next(10_000)).data as T);
      if (id) ids.push(id);
    }
    await stream.expectSilence(300);
    return ids;
  };
  for (const stream of channelStreams) expect(await received(stream, sent.length, (data) => data.channelEvents.message?.id)).toEqual(sent);
  for (const inbox of inboxes) expect(await received(inbox, sent.length, (data) => data.inboxEvents.message?.id)).toEqual(sent);
  await Promise.all([...channelStreams, ...inboxes].map((stream) => stream.close()));
}, 120_000);
