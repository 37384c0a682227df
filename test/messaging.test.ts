import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { errorCodes, ok, request, subscribe } from './support/client';
import { actions } from './support/actions';
import {
  ChannelActivateDocument,
  ChannelByIdDocument,
  ChannelEventsDocument,
  ChannelJoinDocument,
  ChannelMessagesDocument,
  ChannelsDocument,
} from './generated/graphql';

let server: TestServer;
let org: TestOrganisation;
let clinician: Person;
let receptionist: Person;
let patient: Person;

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  clinician = await org.addStaff('Dr Test Clinician', ['MESSAGING_MANAGEMENT']);
  receptionist = await org.addStaff('Ravi Reception');
  patient = await org.addPatient('Olive Patient');
});
afterAll(() => server.close());

const { activate, send } = actions(() => server);

describe('care-team channel, end to end', () => {
  it('staff activates, the patient receives a message live, then pages the history', async () => {
    const channel = await activate(clinician, patient);
    expect(channel).toMatchObject({ kind: 'CARE_TEAM', status: 'ACTIVE', patient: { id: patient.id } });
    expect(channel.myMembership).not.toBeNull();

    // Subscribing from the channel's position (a cursor) rather than from "now" makes the test
    // independent of when the server has registered the subscription.
    const greeting = await send(clinician, channel.id, 'Hello **Olive**, how are you?');
    const live = subscribe(server.wsUrl, patient.token, ChannelEventsDocument, { channelId: channel.id, after: greeting.message!.cursor });
    const sent = await send(clinician, channel.id, 'Are you free on Tuesday?');
    expect(sent.userErrors).toEqual([]);

    const event = await live.next();
    expect(event.errors).toBeUndefined();
    expect(event.data!.channelEvents).toMatchObject({ type: 'MESSAGE_SENT', message: { id: sent.message!.id, body: 'Are you free on Tuesday?' } });
    await live.expectSilence();
    await live.close();

    for (let i = 1; i <= 4; i += 1) await send(i % 2 ? patient : clinician, channel.id, `message ${i}`);
    const newest = await ok(server.url, patient.token, ChannelMessagesDocument, { id: channel.id, last: 2 });
    const page = newest.channel!.messages;
    expect(page.edges.map((edge) => edge.node.body)).toEqual(['message 3', 'message 4']);
    expect(page.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });

    const older = await ok(server.url, patient.token, ChannelMessagesDocument, { id: channel.id, last: 10, before: page.pageInfo.startCursor });
    expect(older.channel!.messages.edges.map((edge) => edge.node.body)).toEqual([
      'Hello **Olive**, how are you?',
      'Are you free on Tuesday?',
      'message 1',
      'message 2',
    ]);
    expect(older.channel!.messages.pageInfo.hasPreviousPage).toBe(false);

    const forward = await ok(server.url, clinician.token, ChannelMessagesDocument, { id: channel.id, first: 4 });
    expect(forward.channel!.messages.edges.map((edge) => edge.node.body)).toEqual(['Hello **Olive**, how are you?', 'Are you free on Tuesday?', 'message 1', 'message 2']);
    expect(forward.channel!.messages.pageInfo.hasNextPage).toBe(true);
    const rest = await ok(server.url, clinician.token, ChannelMessagesDocument, { id: channel.id, first: 4, after: forward.channel!.messages.pageInfo.endCursor });
    expect(rest.channel!.messages.edges.map((edge) => edge.node.body)).toEqual(['message 3', 'message 4']);
    expect(rest.channel!.messages.pageInfo.hasNextPage).toBe(false);
  });

  it('activating again returns the same channel; another team member joins instead', async () => {
    const other = await org.addPatient('Second Patient');
    const first = await activate(clinician, other);
    const again = await activate(clinician, other);
    expect(again.id).toBe(first.id);

    const before = await ok(server.url, receptionist.token, ChannelByIdDocument, { id: first.id });
    expect(before.channel).toMatchObject({ id: first.id, myMembership: null });
    const notYet = await ok(server.url, receptionist.token, ChannelMessagesDocument, { id: first.id, last: 5 });
    expect(notYet.channel!.messages.edges).toEqual([]);
    const sendBeforeJoin = await send(receptionist, first.id, 'not a member yet');
    expect(sendBeforeJoin.userErrors.map((error) => error.code)).toEqual(['NOT_FOUND']);

    const joined = await ok(server.url, receptionist.token, ChannelJoinDocument, { input: { channelId: first.id } });
    expect(joined.channelJoin.userErrors).toEqual([]);
    expect(joined.channelJoin.channel!.myMembership).not.toBeNull();
    const members = await ok(server.url, receptionist.token, ChannelByIdDocument, { id: first.id });
    const memberIds = members.channel!.members.edges.map((edge) => edge.node.teamMember?.id ?? edge.node.patient?.id);
    expect(memberIds.slice(0, 2).sort()).toEqual([clinician.id, other.id].sort());
    expect(memberIds[2]).toBe(receptionist.id); // joining order
    expect((await send(receptionist, first.id, 'now I can write')).userErrors).toEqual([]);
  });

  it('concurrent activations of one channel create it once', async () => {
    const other = await org.addPatient('Raced Patient');
    const results = await Promise.all([activate(clinician, other), activate(receptionist, other), activate(clinician, other)]);
    expect(new Set(results.map((channel) => channel.id)).size).toBe(1);
  });

  it('lists the caller’s channels by latest activity and pages them', async () => {
    const staff = await org.addStaff('Lister');
    const patients = await Promise.all([org.addPatient('A One'), org.addPatient('B Two'), org.addPatient('C Three')]);
    const channels = [];
    for (const p of patients) channels.push(await activate(staff, p));
    await send(staff, channels[0].id, 'bump the first one');
    const page1 = await ok(server.url, staff.token, ChannelsDocument, { first: 2 });
    expect(page1.channels.edges.map((edge) => edge.node.id)).toEqual([channels[0].id, channels[2].id]);
    expect(page1.channels.pageInfo.hasNextPage).toBe(true);
    const page2 = await ok(server.url, staff.token, ChannelsDocument, { first: 2, after: page1.channels.pageInfo.endCursor });
    expect(page2.channels.edges.map((edge) => edge.node.id)).toEqual([channels[1].id]);
    const forged = await request(server.url, staff.token, ChannelsDocument, { first: 2, after: Buffer.from('2020-99-99T99:99:99.999Z|x').toString('base64url') });
    expect(errorCodes(forged)).toEqual(['CURSOR_INVALID']);
    const filtered = await ok(server.url, staff.token, ChannelsDocument, { filter: { patientId: patients[1].id } });
    expect(filtered.channels.edges.map((edge) => edge.node.id)).toEqual([channels[1].id]);
  });

  it('resumes a subscription from a cursor: replays what it missed, then continues live, once each', async () => {
    const p = await org.addPatient('Resume Patient');
    const channel = await activate(clinician, p);
    const first = await send(clinician, channel.id, 'one');
    const cursor = first.message!.cursor;
    await send(clinician, channel.id, 'two');
    await send(p, channel.id, 'three');

    const resumed = subscribe(server.wsUrl, p.token, ChannelEventsDocument, { channelId: channel.id, after: cursor });
    const replayed = [await resumed.next(), await resumed.next()].map((result) => result.data!.channelEvents.message!.body);
    expect(replayed).toEqual(['two', 'three']);
    await send(clinician, channel.id, 'four');
    expect((await resumed.next()).data!.channelEvents.message!.body).toBe('four');
    await resumed.expectSilence();
    await resumed.close();
  });

  it('rejects a cursor from another channel or a forged one with CURSOR_INVALID', async () => {
    const p = await org.addPatient('Cursor Patient');
    const channel = await activate(clinician, p);
    const elsewhere = await activate(clinician, await org.addPatient('Elsewhere Patient'));
    const foreignCursor = (await send(clinician, elsewhere.id, 'x')).message!.cursor;
    for (const after of [foreignCursor, 'bm90LWEtY3Vyc29y']) {
      const sub = subscribe(server.wsUrl, p.token, ChannelEventsDocument, { channelId: channel.id, after });
      expect(errorCodes(await sub.next())).toEqual(['CURSOR_INVALID']);
      await sub.close();
      const page = await request(server.url, p.token, ChannelMessagesDocument, { id: channel.id, first: 5, after });
      expect(errorCodes(page)).toEqual(['CURSOR_INVALID']);
    }
  });
});

describe('bad input changes nothing', () => {
  it.each([
    ['an empty body', '   ', 'INVALID_INPUT'],
    ['an oversized body', 'x'.repeat(20_001), 'BODY_TOO_LONG'],
    ['a body with a NUL character', 'hello\u0000world', 'INVALID_INPUT'],
  ])('rejects %s with a typed error', async (_label, body, code) => {
    const p = await org.addPatient('Input Patient');
    const channel = await activate(clinician, p);
    const result = await send(clinician, channel.id, body);
    expect(result.message).toBeNull();
    expect(result.userErrors).toEqual([expect.objectContaining({ code, field: 'input.body' })]);
    const stored = await ok(server.url, clinician.token, ChannelMessagesDocument, { id: channel.id, last: 10 });
    expect(stored.channel!.messages.edges).toEqual([]);
  });

  it('rejects an unknown channel (NOT_FOUND) and a malformed id (INVALID_INPUT) the same way: one user error on input.channelId, no message', async () => {
    for (const [channelId, code] of [
      ['6f1d8a36-3b8c-4a57-9df4-3f6f3c1b2a10', 'NOT_FOUND'],
      ['not-a-uuid', 'INVALID_INPUT'],
    ]) {
      const result = await send(clinician, channelId, 'hello');
      expect(result.message).toBeNull();
      expect(result.userErrors).toEqual([expect.objectContaining({ code, field: 'input.channelId' })]);
    }
  });

  it('rejects activation of a kind that is not activated from a patient, or of an unknown patient', async () => {
    const p = await org.addPatient('Kind Patient');
    const group = await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: p.id, kind: 'GROUP' } });
    expect(group.channelActivate.userErrors.map((error) => error.code)).toEqual(['UNSUPPORTED_CHANNEL_KIND']);
    const unknown = await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: '6f1d8a36-3b8c-4a57-9df4-3f6f3c1b2a10', kind: 'CARE_TEAM' } });
    expect(unknown.channelActivate.userErrors.map((error) => error.code)).toEqual(['NOT_FOUND']);
    const list = await ok(server.url, clinician.token, ChannelsDocument, { filter: { patientId: p.id } });
    expect(list.channels.edges).toEqual([]);
  });
});
