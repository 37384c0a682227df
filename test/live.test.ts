import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { errorCodes, eventually, ok, request, subscribe, type Subscription } from './support/client';
import { actions, codes } from './support/actions';
import {
  ChannelArchiveDocument,
  ChannelEventsDocument,
  ChannelJoinDocument,
  ChannelLeaveDocument,
  ChannelMarkReadDocument,
  ChannelMemberIdsDocument,
  ChannelMemberRemoveDocument,
  ChannelsDocument,
  ChannelUnarchiveDocument,
  InboxCountsDocument,
  InboxEventsDocument,
  MeDocument,
  MessageSendDocument,
  ReadStateDocument,
  TeamMemberArchiveDocument,
  TypingDocument,
  TypingStartDocument,
  type InboxCountsSubscription,
} from './generated/graphql';

let server: TestServer;
let org: TestOrganisation;
let manager: Person;
let nurse: Person;

beforeAll(async () => {
  server = await startTestServer({ TYPING_INTERVAL_MS: '60000' });
  org = await createOrganisation(server);
  manager = await org.addStaff('Dr Manager', ['MESSAGING_MANAGEMENT']);
  nurse = await org.addStaff('Nora Nurse');
});
afterAll(() => server.close());

const { activate, post } = actions(() => server);
const join = (staff: Person, channelId: string) => ok(server.url, staff.token, ChannelJoinDocument, { input: { channelId } });
const memberId = async (channelId: string, who: Person) => {
  const result = await ok(server.url, manager.token, ChannelMemberIdsDocument, { id: channelId });
  return result.channel!.members.edges.find((edge) => edge.node.teamMember?.id === who.id || edge.node.patient?.id === who.id)!.node.id;
};

/** Subscribes and waits until the server has fixed the stream's start, so nothing sent after is missed. */
async function live<T, V>(token: string, document: Parameters<typeof subscribe<T, V>>[2], variables: V): Promise<Subscription<T>> {
  const before = server.deps.live.streamCount;
  const subscription = subscribe(server.wsUrl, token, document, variables);
  await eventually(() => server.deps.live.streamCount > before);
  return subscription;
}

describe('membership changes end streams at once', () => {
  it('a removed team member gets their own MEMBER_LEFT, then ACCESS_REVOKED; the others see it and go on', async () => {
    const p = await org.addPatient('Removal Patient');
    const channel = await activate(manager, p);
    await join(nurse, channel.id);
    const nurseStream = await live(nurse.token, ChannelEventsDocument, { channelId: channel.id });
    const patientStream = await live(p.token, ChannelEventsDocument, { channelId: channel.id });
    const nurseMember = await memberId(channel.id, nurse);

    const removed = await ok(server.url, manager.token, ChannelMemberRemoveDocument, { input: { channelId: channel.id, memberId: nurseMember } });
    expect(removed.channelMemberRemove.userErrors).toEqual([]);

    const last = await nurseStream.next();
    expect(last.data?.channelEvents).toMatchObject({ type: 'MEMBER_LEFT', member: { id: nurseMember, teamMember: { id: nurse.id } } });
    expect(await nurseStream.endCodes()).toEqual(['ACCESS_REVOKED']);

    expect((await patientStream.next()).data?.channelEvents.type).toBe('MEMBER_LEFT');
    await post(manager, channel.id, 'after the removal');
    expect((await patientStream.next()).data?.channelEvents.message?.body).toBe('after the removal');
    await patientStream.close();

    // Removed means removed: the channel's messages and stream are closed to them like a random id's.
    const resubscribe = subscribe(server.wsUrl, nurse.token, ChannelEventsDocument, { channelId: channel.id });
    expect(await resubscribe.endCodes()).toEqual(['NOT_FOUND']);
    const denied = await ok(server.url, nurse.token, MessageSendDocument, { input: { channelId: channel.id, body: 'x' } });
    expect(denied.messageSend.userErrors.map((e) => e.code)).toEqual(['NOT_FOUND']);
  });

  it('a team member who leaves ends their own stream; they can join again later', async () => {
    const p = await org.addPatient('Leave Patient');
    const channel = await activate(manager, p);
    await join(nurse, channel.id);
    const stream = await live(nurse.token, ChannelEventsDocument, { channelId: channel.id });
    const left = await ok(server.url, nurse.token, ChannelLeaveDocument, { input: { channelId: channel.id } });
    expect(left.channelLeave.userErrors).toEqual([]);
    expect((await stream.next()).data?.channelEvents.type).toBe('MEMBER_LEFT');
    expect(await stream.endCodes()).toEqual(['ACCESS_REVOKED']);

    await join(nurse, channel.id);
    const again = await live(nurse.token, ChannelEventsDocument, { channelId: channel.id });
    await post(p, channel.id, 'welcome back');
    expect((await again.next()).data?.channelEvents.message?.body).toBe('welcome back');
    await again.close();
  });

  it('denied: removing without MESSAGING_MANAGEMENT, the patient of a care-team channel, or the last team member', async () => {
    const p = await org.addPatient('Rules Patient');
    const channel = await activate(manager, p);
    await join(nurse, channel.id);
    const managerMember = await memberId(channel.id, manager);
    const patientMember = await memberId(channel.id, p);
    const removing = async (who: Person, input: { channelId: string; memberId: string }) =>
      codes((await ok(server.url, who.token, ChannelMemberRemoveDocument, { input })).channelMemberRemove);

    expect(await removing(nurse, { channelId: channel.id, memberId: managerMember })).toEqual(['FORBIDDEN']);
    expect(await removing(manager, { channelId: channel.id, memberId: patientMember })).toEqual(['PATIENT_CANNOT_LEAVE']);
    const patientLeaves = await ok(server.url, p.token, ChannelLeaveDocument, { input: { channelId: channel.id } });
    expect(patientLeaves.channelLeave.userErrors.map((e) => e.code)).toEqual(['PATIENT_CANNOT_LEAVE']);

    // The nurse leaves (allowed); the manager is now the last team member and must stay.
    expect((await ok(server.url, nurse.token, ChannelLeaveDocument, { input: { channelId: channel.id } })).channelLeave.userErrors).toEqual([]);
    const lastLeaves = await ok(server.url, manager.token, ChannelLeaveDocument, { input: { channelId: channel.id } });
    expect(lastLeaves.channelLeave.userErrors.map((e) => e.code)).toEqual(['LAST_TEAM_MEMBER']);
    // Nothing changed: the manager and the patient are still the members.
    const members = await ok(server.url, manager.token, ChannelMemberIdsDocument, { id: channel.id });
    expect(members.channel!.members.edges.map((edge) => edge.node.id).sort()).toEqual([managerMember, patientMember].sort());
  });

  it('two team members leaving at once: exactly one succeeds, the other gets LAST_TEAM_MEMBER', async () => {
    const p = await org.addPatient('Race Patient');
    const channel = await activate(manager, p);
    await join(nurse, channel.id);
    const results = await Promise.all([manager, nurse].map((who) => ok(server.url, who.token, ChannelLeaveDocument, { input: { channelId: channel.id } })));
    expect(results.map((r) => r.channelLeave.userErrors.map((e) => e.code)).sort()).toEqual([[], ['LAST_TEAM_MEMBER']]);
  });
});

describe('archived team members', () => {
  it('their open connection closes at once with 4403, without waiting for an event', async () => {
    const leaving = await org.addStaff('Dr Leaving');
    const p = await org.addPatient('Archive Patient');
    const channel = await activate(leaving, p);
    const stream = await live(leaving.token, ChannelEventsDocument, { channelId: channel.id });
    const archived = await ok(server.url, org.serviceToken, TeamMemberArchiveDocument, { input: { teamMemberId: leaving.id } });
    expect(archived.teamMemberArchive.userErrors).toEqual([]);
    const { error } = await stream.ended;
    expect((error as { code: number }).code).toBe(4403);
    expect((await request(server.url, leaving.token, MeDocument)).status).toBe(401);
  });

  it('denied: only services archive team members', async () => {
    const result = await request(server.url, manager.token, TeamMemberArchiveDocument, { input: { teamMemberId: nurse.id } });
    expect(errorCodes(result)).toEqual(['FORBIDDEN']);
    expect((await request(server.url, nurse.token, MeDocument)).status).toBe(200);
  });
});

describe('inboxEvents', () => {
  it('one stream for all of a team member’s channels: messages in order, being added and removed', async () => {
    const worker = await org.addStaff('Ines Inbox');
    const [p1, p2] = [await org.addPatient('Inbox One'), await org.addPatient('Inbox Two')];
    const first = await activate(worker, p1);
    const second = await activate(manager, p2);
    const inbox = await live(worker.token, InboxEventsDocument, {});

    await post(p1, first.id, 'one');
    await join(worker, second.id);
    await post(p2, second.id, 'two');
    await post(p1, first.id, 'three');
    const events = [];
    for (let i = 0; i < 4; i++) events.push((await inbox.next()).data!.inboxEvents);
    expect(events.map((e) => [e.type, e.channelId, e.message?.body ?? null])).toEqual([
      ['MESSAGE_SENT', first.id, 'one'],
      ['CHANNEL_ADDED', second.id, null],
      ['MESSAGE_SENT', second.id, 'two'],
      ['MESSAGE_SENT', first.id, 'three'],
    ]);

    await ok(server.url, manager.token, ChannelMemberRemoveDocument, { input: { channelId: second.id, memberId: await memberId(second.id, worker) } });
    const removed = (await inbox.next()).data!.inboxEvents;
    expect(removed).toMatchObject({ type: 'CHANNEL_REMOVED', channelId: second.id, channel: null });
    await post(p2, second.id, 'not for the removed member');
    await post(p1, first.id, 'four');
    expect((await inbox.next()).data!.inboxEvents.message?.body).toBe('four');
    await inbox.close();
  });

  it('resumes from a cursor: what was missed while away, once each, judged by membership at the time', async () => {
    const worker = await org.addStaff('Rex Resume');
    const p = await org.addPatient('Resume Patient');
    const channel = await activate(worker, p);
    await join(manager, channel.id);
    const inbox = await live(worker.token, InboxEventsDocument, {});
    await post(p, channel.id, 'seen live');
    const seen = (await inbox.next()).data!.inboxEvents;
    await inbox.close();

    await post(p, channel.id, 'missed while away');
    expect((await ok(server.url, worker.token, ChannelLeaveDocument, { input: { channelId: channel.id } })).channelLeave.userErrors).toEqual([]);
    await post(p, channel.id, 'sent after they left');
    await join(worker, channel.id);

    const resumed = await live(worker.token, InboxEventsDocument, { after: seen.cursor });
    const replayed = [];
    for (let i = 0; i < 3; i++) replayed.push((await resumed.next()).data!.inboxEvents);
    expect(replayed.map((e) => [e.type, e.message?.body ?? null])).toEqual([
      ['MESSAGE_SENT', 'missed while away'],
      ['CHANNEL_REMOVED', null],
      ['CHANNEL_ADDED', null],
    ]);
    await post(p, channel.id, 'live again');
    expect((await resumed.next()).data!.inboxEvents.message?.body).toBe('live again');
    await resumed.expectSilence(200);
    await resumed.close();
  });

  it('a patient’s inbox never carries staff-channel events or other patients’ channels', async () => {
    const p = await org.addPatient('Inbox Patient');
    const other = await org.addPatient('Other Patient');
    const care = await activate(manager, p);
    const staffChannel = await activate(manager, p, 'STAFF');
    const otherCare = await activate(manager, other);
    const inbox = await live(p.token, InboxEventsDocument, {});
    await post(manager, staffChannel.id, 'staff only: about the patient');
    await post(manager, otherCare.id, 'for someone else');
    await post(manager, care.id, 'for you');
    const event = (await inbox.next()).data!.inboxEvents;
    expect(event).toMatchObject({ type: 'MESSAGE_SENT', channelId: care.id, message: { body: 'for you' } });
    await inbox.expectSilence(200);
    await inbox.close();
  });

  it('denied: a cursor of another person or a forged one gets CURSOR_INVALID', async () => {
    const worker = await org.addStaff('Cara Cursor');
    const p = await org.addPatient('Cursor Patient');
    const channel = await activate(worker, p);
    const inbox = await live(worker.token, InboxEventsDocument, {});
    await post(p, channel.id, 'hello');
    const cursor = (await inbox.next()).data!.inboxEvents.cursor;
    await inbox.close();
    for (const [token, after] of [
      [nurse.token, cursor],
      [worker.token, 'bm90LWEtY3Vyc29y'],
    ] as const) {
      const sub = subscribe(server.wsUrl, token, InboxEventsDocument, { after });
      expect(await sub.endCodes()).toEqual(['CURSOR_INVALID']);
    }
  });
});

describe('typing', () => {
  it('members see who is typing, not themselves; an internal note’s typing is not shown to the patient; repeats are rate-limited', async () => {
    const p = await org.addPatient('Typing Patient');
    const channel = await activate(manager, p);
    await join(nurse, channel.id);
    const patientWatch = subscribe(server.wsUrl, p.token, TypingDocument, { channelId: channel.id });
    const nurseWatch = subscribe(server.wsUrl, nurse.token, TypingDocument, { channelId: channel.id });
    const managerWatch = subscribe(server.wsUrl, manager.token, TypingDocument, { channelId: channel.id });
    await eventually(() => server.deps.live.typingStreamCount(channel.id) === 3);

    const typing = (input: { channelId: string; internal?: boolean }) => ok(server.url, manager.token, TypingStartDocument, { input });
    expect((await typing({ channelId: channel.id })).typingStart.userErrors).toEqual([]);
    expect((await typing({ channelId: channel.id })).typingStart.userErrors).toEqual([]);
    expect((await patientWatch.next()).data?.typing).toMatchObject({ channelId: channel.id, author: { __typename: 'TeamMember', id: manager.id } });
    expect((await nurseWatch.next()).data?.typing.author).toMatchObject({ id: manager.id });
    await patientWatch.expectSilence(200);
    await managerWatch.expectSilence(0);

    const internal = await ok(server.url, nurse.token, TypingStartDocument, { input: { channelId: channel.id, internal: true } });
    expect(internal.typingStart.userErrors).toEqual([]);
    expect((await managerWatch.next()).data?.typing.author).toMatchObject({ id: nurse.id });
    await patientWatch.expectSilence(200);
    await Promise.all([patientWatch.close(), nurseWatch.close(), managerWatch.close()]);
  });

  it('denied: typing in a channel the caller is not in, or an internal note as a patient', async () => {
    const p = await org.addPatient('Typing Denied');
    const channel = await activate(manager, p);
    const outsider = await ok(server.url, nurse.token, TypingStartDocument, { input: { channelId: channel.id } });
    expect(outsider.typingStart.userErrors.map((e) => e.code)).toEqual(['NOT_FOUND']);
    const asPatient = await ok(server.url, p.token, TypingStartDocument, { input: { channelId: channel.id, internal: true } });
    expect(asPatient.typingStart.userErrors.map((e) => e.code)).toEqual(['FORBIDDEN']);
    const watch = subscribe(server.wsUrl, nurse.token, TypingDocument, { channelId: channel.id });
    expect(await watch.endCodes()).toEqual(['NOT_FOUND']);
  });
});

describe('read state', () => {
  it('unread counts and the badge follow messages and channelMarkRead; the reader’s other connections are told; others are not', async () => {
    const reader = await org.addStaff('Rita Reader');
    const [p1, p2] = [await org.addPatient('Read One'), await org.addPatient('Read Two')];
    const first = await activate(reader, p1);
    const second = await activate(reader, p2);
    await join(nurse, first.id);
    const readerInbox = await live(reader.token, InboxCountsDocument, {});
    const nurseInbox = await live(nurse.token, InboxCountsDocument, {});

    // An inbox event carries the counts as they are when it is delivered: each is awaited
    // before the next message, so that it shows the count after its own message.
    const counts: Array<InboxCountsSubscription['inboxEvents']> = [];
    const delivered = async () => counts.push((await readerInbox.next()).data!.inboxEvents);
    await post(p1, first.id, 'one');
    await delivered();
    const two = await post(p1, first.id, 'two');
    await delivered();
    await post(p2, second.id, 'three');
    await delivered();
    await post(reader, second.id, 'my own message is never unread for me');
    await delivered();
    expect(counts.map((e) => [e.type, e.unreadCount, e.badgeCount])).toEqual([
      ['MESSAGE_SENT', 1, 1],
      ['MESSAGE_SENT', 2, 2],
      ['MESSAGE_SENT', 1, 3],
      ['MESSAGE_SENT', 1, 3],
    ]);

    const marked = await ok(server.url, reader.token, ChannelMarkReadDocument, { input: { channelId: first.id, messageId: two.id } });
    expect(marked.channelMarkRead).toMatchObject({ userErrors: [], channel: { unreadCount: 0 } });
    expect(marked.channelMarkRead.channel!.myMembership!.lastReadAt).toBeTruthy();
    expect((await readerInbox.next()).data!.inboxEvents).toMatchObject({ type: 'READ_STATE_CHANGED', channelId: first.id, unreadCount: 0, badgeCount: 1 });
    expect(await ok(server.url, reader.token, ReadStateDocument, { id: second.id })).toMatchObject({ badgeCount: 1, channel: { unreadCount: 1 } });

    // Marking an older message read never moves the position back, and tells nobody.
    const again = await ok(server.url, reader.token, ChannelMarkReadDocument, { input: { channelId: first.id, messageId: two.id } });
    expect(again.channelMarkRead.channel!.unreadCount).toBe(0);
    await readerInbox.expectSilence(200);

    // The nurse, in the first channel too, saw its two messages and nothing of the reader's reading.
    const nurseEvents = [(await nurseInbox.next()).data!.inboxEvents, (await nurseInbox.next()).data!.inboxEvents];
    expect(nurseEvents.map((e) => e.type)).toEqual(['MESSAGE_SENT', 'MESSAGE_SENT']);
    await nurseInbox.expectSilence(200);
    await Promise.all([readerInbox.close(), nurseInbox.close()]);
  });

  it('denied: marking read in a channel the caller is not in, or with a message of another channel', async () => {
    const p = await org.addPatient('Read Denied');
    const channel = await activate(manager, p);
    const other = await activate(manager, await org.addPatient('Other Read'));
    const message = await post(manager, other.id, 'elsewhere');
    const outsider = await ok(server.url, nurse.token, ChannelMarkReadDocument, { input: { channelId: channel.id, messageId: message.id } });
    expect(outsider.channelMarkRead.userErrors.map((e) => e.code)).toEqual(['NOT_FOUND']);
    const wrongChannel = await ok(server.url, p.token, ChannelMarkReadDocument, { input: { channelId: channel.id, messageId: message.id } });
    expect(wrongChannel.channelMarkRead.userErrors).toEqual([{ code: 'NOT_FOUND', field: 'input.messageId', message: expect.any(String) }]);
  });
});

describe('per-member archive', () => {
  it('archiving moves a channel to the caller’s archived list and out of their badge, for them alone; unarchiving brings it back', async () => {
    const keeper = await org.addStaff('Kai Keeper');
    const p = await org.addPatient('Archive List Patient');
    const channel = await activate(keeper, p);
    await join(nurse, channel.id);
    await post(p, channel.id, 'unread for both');
    const inbox = await live(keeper.token, InboxCountsDocument, {});
    const listed = async (who: Person, archived?: boolean) =>
      (await ok(server.url, who.token, ChannelsDocument, { first: 100, filter: archived === undefined ? undefined : { archived } })).channels.edges.map((edge) => edge.node.id);

    const archivedResult = await ok(server.url, keeper.token, ChannelArchiveDocument, { input: { channelId: channel.id } });
    expect(archivedResult.channelArchive).toMatchObject({ userErrors: [], channel: { myMembership: { archived: true } } });
    expect((await inbox.next()).data!.inboxEvents).toMatchObject({ type: 'CHANNEL_ARCHIVED', channelId: channel.id, badgeCount: 0 });
    expect(await listed(keeper)).not.toContain(channel.id);
    expect(await listed(keeper, true)).toContain(channel.id);
    expect(await listed(nurse)).toContain(channel.id);
    expect((await ok(server.url, nurse.token, ReadStateDocument, { id: channel.id })).badgeCount).toBeGreaterThan(0);
    expect((await ok(server.url, keeper.token, ReadStateDocument, { id: channel.id })).badgeCount).toBe(0);

    // Twice changes nothing and tells nobody.
    await ok(server.url, keeper.token, ChannelArchiveDocument, { input: { channelId: channel.id } });
    await inbox.expectSilence(200);

    const back = await ok(server.url, keeper.token, ChannelUnarchiveDocument, { input: { channelId: channel.id } });
    expect(back.channelUnarchive.channel!.myMembership!.archived).toBe(false);
    expect((await inbox.next()).data!.inboxEvents).toMatchObject({ type: 'CHANNEL_UNARCHIVED', badgeCount: 1 });
    expect(await listed(keeper)).toContain(channel.id);
    await inbox.close();
  });

  it('denied: archiving a channel the caller is not in', async () => {
    const p = await org.addPatient('Archive Denied');
    const channel = await activate(manager, p);
    const result = await ok(server.url, nurse.token, ChannelArchiveDocument, { input: { channelId: channel.id } });
    expect(result.channelArchive.userErrors.map((e) => e.code)).toEqual(['NOT_FOUND']);
  });
});
