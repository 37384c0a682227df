import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type TestOrganisation } from './support/fixtures';
import { eventually, ok, subscribe } from './support/client';
import { actions } from './support/actions';
import { ChannelEventsDocument, InboxEventsDocument, TeamMemberUpsertDocument } from './generated/graphql';
import { FeedMemory, type TrimmableFeed } from '../src/realtime/feed-memory';
import { FeedCompaction } from '../src/realtime/feed-compaction';
import type { LoadedEvent } from '../src/realtime/event-batch';
import { randomUUID } from 'node:crypto';

/** About 20 KB for every organisation's feed together: a handful of events, then the budget trims. */
const BUDGET_MB = '0.02';
const BUDGET_BYTES = Math.round(0.02 * 1024 * 1024);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ LIVE_FEED_MEMORY_MB: BUDGET_MB });
});
afterAll(() => server.close());

const { activate, post } = actions(() => server);
const feedMemory = () => server.deps.live.feedMemory();

/** Opens a subscription and waits until the server has set its stream up (so nothing sent after is missed). */
async function opened<T>(open: () => T): Promise<T> {
  const before = server.deps.live.streamCount;
  const subscription = open();
  await eventually(() => server.deps.live.streamCount > before);
  return subscription;
}

describe("one memory budget for every organisation's live feed", () => {
  it('two busy organisations stay within the budget, the oldest events go, and every subscriber still gets every message once, in order', async () => {
    const orgs: TestOrganisation[] = [await createOrganisation(server), await createOrganisation(server)];
    const streams = [];
    const channels = [];
    for (const org of orgs) {
      const clinician = await org.addStaff('Budget Clinician');
      const patient = await org.addPatient('Budget Patient');
      const channel = await activate(clinician, patient);
      const start = await post(clinician, channel.id, 'start');
      channels.push({ clinician, channel });
      streams.push(
        subscribe(server.wsUrl, patient.token, ChannelEventsDocument, { channelId: channel.id, after: start.cursor }),
        await opened(() => subscribe(server.wsUrl, clinician.token, InboxEventsDocument, {})),
      );
    }
    const evictedBefore = feedMemory().evictedEvents;
    const perOrg = 30;
    let highest = 0;
    await Promise.all(
      channels.map(async ({ clinician, channel }, index) => {
        for (let i = 0; i < perOrg; i++) {
          await post(clinician, channel.id, `org ${index} message ${i}: ${'a fairly ordinary sentence about an appointment. '.repeat(3)}`);
          highest = Math.max(highest, feedMemory().bufferedBytes);
        }
      }),
    );
    for (const [index, stream] of streams.entries()) {
      const org = Math.floor(index / 2);
      const bodies: string[] = [];
      while (bodies.length < perOrg) {
        const data = (await stream.next(10_000)).data!;
        const event = 'channelEvents' in data ? data.channelEvents : data.inboxEvents;
        if (event.message) bodies.push((event.message as { body?: string }).body ?? event.message.id);
      }
      if (index % 2 === 0) expect(bodies).toEqual(Array.from({ length: perOrg }, (_, i) => expect.stringMatching(new RegExp(`^org ${org} message ${i}:`))));
      else expect(new Set(bodies).size).toBe(perOrg);
      await stream.expectSilence(100);
    }
    expect(feedMemory().evictedEvents).toBeGreaterThan(evictedBefore);
    expect(highest).toBeLessThanOrEqual(BUDGET_BYTES);
    expect(feedMemory().bufferedBytes).toBeLessThanOrEqual(BUDGET_BYTES);
    await Promise.all(streams.map((stream) => stream.close()));
  });

  it('a feed is released with its last subscriber: what it held no longer counts', async () => {
    const org = await createOrganisation(server);
    const clinician = await org.addStaff('Release Clinician');
    const channel = await activate(clinician, await org.addPatient('Release Patient'));
    const feedsBefore = feedMemory().feeds;
    const stream = await opened(() => subscribe(server.wsUrl, clinician.token, ChannelEventsDocument, { channelId: channel.id }));
    await post(clinician, channel.id, 'held in the feed');
    await stream.next();
    expect(feedMemory().feeds).toBe(feedsBefore + 1);
    await stream.close();
    await eventually(() => feedMemory().feeds === feedsBefore);
  });

  it('a renamed team member is shown by the new name in the events after the rename', async () => {
    const org = await createOrganisation(server);
    const clinician = await org.addStaff('Old Name');
    const patient = await org.addPatient('Rename Patient');
    const channel = await activate(clinician, patient);
    const inbox = await opened(() => subscribe(server.wsUrl, patient.token, InboxEventsDocument, {}));
    await post(clinician, channel.id, 'before the rename');
    expect((await inbox.next()).data!.inboxEvents.message!.author).toMatchObject({ name: 'Old Name' });
    const renamed = await ok(server.url, org.serviceToken, TeamMemberUpsertDocument, { input: { externalId: clinician.externalId, name: 'New Name', roles: ['Clinician'] } });
    expect(renamed.teamMemberUpsert.userErrors).toEqual([]);
    await post(clinician, channel.id, 'after the rename');
    expect((await inbox.next()).data!.inboxEvents.message!.author).toMatchObject({ name: 'New Name' });
    await inbox.close();
  });
});

describe('FeedMemory', () => {
  /** A feed of fixed-size events, as the budget sees one. */
  const feedOf = (eventBytes: number) => {
    const feed = {
      events: 0,
      get bufferedBytes() {
        return feed.events * eventBytes;
      },
      dropOldest(bytes: number) {
        const count = Math.min(feed.events, Math.ceil(bytes / eventBytes));
        feed.events -= count;
        return count;
      },
    };
    return feed satisfies TrimmableFeed;
  };

  it('takes from the least recently active feed first, down to 90% of the budget', () => {
    const memory = new FeedMemory(1_000);
    const idle = feedOf(100);
    const busy = feedOf(100);
    idle.events = 4;
    memory.added(idle, 400);
    busy.events = 5;
    memory.added(busy, 500);
    expect(memory.stats()).toMatchObject({ bufferedBytes: 900, evictedEvents: 0 });
    busy.events += 2;
    memory.added(busy, 200);
    // 1,100 > 1,000: the idle feed gives up 200 bytes (two events) to get back to 900.
    expect([idle.events, busy.events]).toEqual([2, 7]);
    expect(memory.stats()).toMatchObject({ bufferedBytes: 900, evictedEvents: 2, evictions: 1 });
    busy.events += 5;
    memory.added(busy, 500);
    // The idle feed is emptied before the busy one gives anything.
    expect([idle.events, busy.events]).toEqual([0, 9]);
    expect(memory.stats().bufferedBytes).toBe(900);
    memory.forget(busy);
    expect(memory.stats()).toMatchObject({ feeds: 1, bufferedBytes: 0 });
  });

  it('denied: nothing is taken while the feeds stay within the budget', () => {
    const memory = new FeedMemory(1_000);
    const feed = feedOf(100);
    feed.events = 10;
    memory.added(feed, 1_000);
    expect(feed.events).toBe(10);
    expect(memory.stats()).toMatchObject({ bufferedBytes: 1_000, evictedEvents: 0, evictions: 0 });
  });
});

describe('FeedCompaction', () => {
  /** A one-event batch naming a channel and a patient seen for the first time. */
  const batchNamingSomeoneNew = (position: number): LoadedEvent[] => {
    const channelId = randomUUID();
    const patientId = randomUUID();
    const record = { organisationId: 'org', channelId, seq: 1, position, type: 'MESSAGE_SENT', staffOnly: false, subjectOnly: false };
    const related = {
      messages: [],
      members: [],
      channels: [{ organisationId: 'org', id: channelId, kind: 'CARE_TEAM', patientId }],
      teamMembers: [],
      patients: [{ organisationId: 'org', id: patientId, name: `Patient ${position}` }],
    };
    return [{ record, key: { position, channelId, seq: 1 }, related, people: { keys: new Set([`p:${patientId}`]) } } as unknown as LoadedEvent];
  };

  it('keeps its tables a small multiple of what the buffer holds, however many people the events name', () => {
    const compaction = new FeedCompaction();
    for (let position = 1; position <= 5_000; position++) {
      compaction.compact(batchNamingSomeoneNew(position));
      // The feed holds its newest 28 events (the budget evicts the rest).
      compaction.bound(28);
    }
    expect(compaction.largestTable).toBeLessThanOrEqual(256 + 4 * 28);
  });

  it('shares one row per person between batches, brought up to date when it changes', () => {
    const compaction = new FeedCompaction();
    const first = batchNamingSomeoneNew(1);
    const second = batchNamingSomeoneNew(2);
    const patient = first[0].related.patients[0];
    second[0].related.patients = [{ ...patient, name: 'Renamed' } as typeof patient];
    compaction.compact(first);
    const reused = compaction.compact(second);
    expect(second[0].related.patients[0]).toBe(first[0].related.patients[0]);
    expect(reused.has(first[0].related.patients[0])).toBe(true);
    expect(first[0].related.patients[0].name).toBe('Renamed');
  });
});
