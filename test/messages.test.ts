import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { eventually, ok, request, subscribe } from './support/client';
import { actions, codes } from './support/actions';
import {
  ChannelActivateDocument,
  ChannelMarkReadDocument,
  ChannelsDocument,
  ChannelEventsDocument,
  ChannelJoinDocument,
  MessageDeleteDocument,
  MessageEditDocument,
  MessageSearchDocument,
  PatientUpsertDocument,
  ReactionAddDocument,
  ReactionRemoveDocument,
  ReactionsDocument,
  RenderedDocument,
  SendFullDocument,
  ThreadDocument,
  TopLevelDocument,
} from './generated/graphql';

let server: TestServer;
let org: TestOrganisation;
let clinician: Person;
let colleague: Person;
let manager: Person;
let patient: Person;
let channelId: string;

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  clinician = await org.addStaff('Dr Thread');
  colleague = await org.addStaff('Nurse Plain');
  manager = await org.addStaff('Mia Manager', ['MESSAGING_MANAGEMENT']);
  patient = await org.addPatient('Pat Messages');
  channelId = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
  await Promise.all([colleague, manager].map((who) => ok(server.url, who.token, ChannelJoinDocument, { input: { channelId } })));
});
afterAll(() => server.close());

// Sends with SendFull: the payload's message has its reply count, parent and internal flag too.
const { send } = actions(() => server, { sendDocument: SendFullDocument });

describe('threads', () => {
  it('a reply joins its thread; the thread counts it; a reply to a reply is refused and changes nothing', async () => {
    const root = await send(patient, channelId, 'I have a question');
    const reply = await send(clinician, channelId, 'Go ahead', { parentMessageId: root.message!.id });
    expect(reply.message).toMatchObject({ parent: { id: root.message!.id } });
    const thread = await ok(server.url, patient.token, ThreadDocument, { id: root.message!.id });
    expect(thread.message).toMatchObject({ replyCount: 1, replies: { edges: [{ node: { body: 'Go ahead' } }] } });
    expect(thread.message!.threadParticipants).toEqual([{ __typename: 'TeamMember', id: clinician.id }]);
    expect(thread.message!.lastReplyAt).toBeTruthy();
    // Replies live in their thread, not in the channel's list.
    const list = await ok(server.url, patient.token, TopLevelDocument, { id: channelId });
    expect(list.channel!.messages.edges.map((edge) => edge.node.body)).not.toContain('Go ahead');

    const nested = await send(patient, channelId, 'nested', { parentMessageId: reply.message!.id });
    expect(nested.userErrors[0]).toMatchObject({ code: 'REPLY_TO_REPLY', field: 'input.parentMessageId' });
    expect((await ok(server.url, patient.token, ThreadDocument, { id: root.message!.id })).message!.replyCount).toBe(1);
  });
});

describe('unread counts', () => {
  it("count a thread's replies by others after the read position, and never internal notes for a patient", async () => {
    const root = await send(patient, channelId, 'Thread for counting');
    const threadId = root.message!.id;
    await send(clinician, channelId, 'First answer', { parentMessageId: threadId });
    await send(colleague, channelId, 'Staff aside', { parentMessageId: threadId, internal: true });
    const second = await send(clinician, channelId, 'Second answer', { parentMessageId: threadId });
    await send(patient, channelId, 'My own reply', { parentMessageId: threadId });
    expect((await ok(server.url, patient.token, ThreadDocument, { id: threadId })).message!.unreadReplyCount).toBe(2);
    expect((await ok(server.url, manager.token, ThreadDocument, { id: threadId })).message!.unreadReplyCount).toBe(4);
    const before = (await ok(server.url, patient.token, TopLevelDocument, { id: channelId })).channel!.unreadCount;
    await send(clinician, channelId, 'Internal top-level', { internal: true });
    expect((await ok(server.url, patient.token, TopLevelDocument, { id: channelId })).channel!.unreadCount).toBe(before);

    await ok(server.url, patient.token, ChannelMarkReadDocument, { input: { channelId, messageId: second.message!.id } });
    expect((await ok(server.url, patient.token, ThreadDocument, { id: threadId })).message!.unreadReplyCount).toBe(0);
  });
});

describe('internal notes', () => {
  it('are seen by staff only: never in a patient’s list, thread, reply count, lookups or live stream', async () => {
    const before = server.deps.live.streamCount;
    const stream = subscribe(server.wsUrl, patient.token, ChannelEventsDocument, { channelId });
    await eventually(() => server.deps.live.streamCount > before);
    try {
      const root = await send(clinician, channelId, 'Visible question for the patient');
      const note = await send(clinician, channelId, 'Internal: check the bloods first', { internal: true });
      const threadNote = await send(colleague, channelId, 'Internal reply', { parentMessageId: root.message!.id, internal: true });
      // A reply to an internal note is internal even when not asked for.
      const replyToNote = await send(colleague, channelId, 'Agreed', { parentMessageId: note.message!.id });
      expect([note.message!.internal, threadNote.message!.internal, replyToNote.message!.internal]).toEqual([true, true, true]);
      const after = await send(clinician, channelId, 'Visible follow-up');

      expect((await stream.next()).data?.channelEvents.message?.body).toBe('Visible question for the patient');
      expect((await stream.next()).data?.channelEvents.message?.body).toBe('Visible follow-up');

      const patientList = await ok(server.url, patient.token, TopLevelDocument, { id: channelId });
      expect(patientList.channel!.messages.edges.every((edge) => !edge.node.internal)).toBe(true);
      expect((await ok(server.url, patient.token, ThreadDocument, { id: note.message!.id })).message).toBeNull();
      const patientThread = await ok(server.url, patient.token, ThreadDocument, { id: root.message!.id });
      expect(patientThread.message).toMatchObject({ replyCount: 0, replies: { edges: [] } });
      expect(patientThread.message!.threadParticipants).toEqual([]);
      const staffThread = await ok(server.url, manager.token, ThreadDocument, { id: root.message!.id });
      expect(staffThread.message).toMatchObject({ replyCount: 1, replies: { edges: [{ node: { body: 'Internal reply', internal: true } }] } });
      expect(staffThread.message!.threadParticipants).toEqual([{ __typename: 'TeamMember', id: colleague.id }]);
      expect(after.userErrors).toEqual([]);
      const staffList = await ok(server.url, manager.token, TopLevelDocument, { id: channelId });
      expect(staffList.channel!.messages.edges.map((edge) => edge.node.body)).toContain('Internal: check the bloods first');
    } finally {
      await stream.close();
    }
  });

  it("do not move the channel up the patient's list", async () => {
    const service = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'SERVICE_TEAM' } })).channelActivate.channel!.id;
    await ok(server.url, clinician.token, ChannelJoinDocument, { input: { channelId } });
    await send(clinician, channelId, 'Visible, in the care-team channel');
    await ok(server.url, clinician.token, SendFullDocument, { input: { channelId: service, body: 'Visible, in the service channel' } });
    await send(clinician, channelId, 'Internal, in the care-team channel', { internal: true });
    const order = (await ok(server.url, patient.token, ChannelsDocument, { first: 10 })).channels.edges.map((edge) => edge.node.id);
    expect(order.indexOf(service)).toBeLessThan(order.indexOf(channelId));
  });

  it('denied: a patient cannot write one; a patient cannot reply into an internal thread', async () => {
    expect(codes(await send(patient, channelId, 'secret', { internal: true }))).toEqual(['FORBIDDEN']);
    const note = await send(clinician, channelId, 'Internal note', { internal: true });
    expect(codes(await send(patient, channelId, 'peek', { parentMessageId: note.message!.id }))).toEqual(['NOT_FOUND']);
  });
});

describe('idempotent send', () => {
  it('the same key returns the original message; the same key with other content is refused and sends nothing', async () => {
    const key = `key-${Date.now()}`;
    const [a, b] = await Promise.all([send(patient, channelId, 'Only once', { idempotencyKey: key }), send(patient, channelId, 'Only once', { idempotencyKey: key })]);
    expect(a.message!.id).toBe(b.message!.id);
    expect((await send(patient, channelId, 'Only once', { idempotencyKey: key })).message!.id).toBe(a.message!.id);
    expect(codes(await send(patient, channelId, 'Different', { idempotencyKey: key }))).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    // Keys are per sender.
    expect((await send(clinician, channelId, 'Only once', { idempotencyKey: key })).message!.id).not.toBe(a.message!.id);
    const bodies = (await ok(server.url, clinician.token, TopLevelDocument, { id: channelId })).channel!.messages.edges.map((edge) => edge.node.body);
    expect(bodies.filter((body) => body === 'Only once')).toHaveLength(2);
    expect(bodies).not.toContain('Different');
  });
});

describe('edits and deletes', () => {
  it('the author edits; every earlier body is kept, shown to staff only; a delete leaves a tombstone', async () => {
    const sent = await send(patient, channelId, 'My appointment is Tuesday');
    const messageId = sent.message!.id;
    const edited = await ok(server.url, patient.token, MessageEditDocument, { input: { messageId, body: 'My appointment is Wednesday' } });
    expect(edited.messageEdit.message).toMatchObject({ body: 'My appointment is Wednesday', revisions: null });
    expect(edited.messageEdit.message!.editedAt).toBeTruthy();
    const staffView = await ok(server.url, clinician.token, ThreadDocument, { id: messageId });
    expect(staffView.message!.revisions).toEqual([{ body: 'My appointment is Tuesday' }]);

    const deleted = await ok(server.url, patient.token, MessageDeleteDocument, { input: { messageId } });
    expect(deleted.messageDelete.message).toMatchObject({ body: '' });
    expect(deleted.messageDelete.message!.deletedAt).toBeTruthy();
    expect((await ok(server.url, clinician.token, ThreadDocument, { id: messageId })).message!.revisions).toEqual([
      { body: 'My appointment is Tuesday' },
      { body: 'My appointment is Wednesday' },
    ]);
    expect((await ok(server.url, patient.token, MessageDeleteDocument, { input: { messageId } })).messageDelete.userErrors).toEqual([]);
    expect(codes((await ok(server.url, patient.token, MessageEditDocument, { input: { messageId, body: 'again' } })).messageEdit)).toEqual(['MESSAGE_DELETED']);
  });

  it("Messaging Management edits anyone's message, patients' included; everyone else is refused and nothing changes", async () => {
    const byPatient = await send(patient, channelId, 'Patient wrote this');
    const byClinician = await send(clinician, channelId, 'Clinician wrote this');
    expect(codes((await ok(server.url, colleague.token, MessageEditDocument, { input: { messageId: byClinician.message!.id, body: 'hijack' } })).messageEdit)).toEqual(['FORBIDDEN']);
    expect(codes((await ok(server.url, patient.token, MessageDeleteDocument, { input: { messageId: byClinician.message!.id } })).messageDelete)).toEqual(['FORBIDDEN']);
    expect(codes((await ok(server.url, colleague.token, MessageDeleteDocument, { input: { messageId: byPatient.message!.id } })).messageDelete)).toEqual(['FORBIDDEN']);
    expect((await ok(server.url, clinician.token, ThreadDocument, { id: byClinician.message!.id })).message).toMatchObject({ body: 'Clinician wrote this', revisions: [] });

    const moderated = await ok(server.url, manager.token, MessageEditDocument, { input: { messageId: byPatient.message!.id, body: '[removed personal details]' } });
    expect(moderated.messageEdit.message).toMatchObject({ body: '[removed personal details]', revisions: [{ body: 'Patient wrote this' }] });
    expect((await ok(server.url, manager.token, MessageDeleteDocument, { input: { messageId: byClinician.message!.id } })).messageDelete.message!.deletedAt).toBeTruthy();
    // A patient whose messaging was turned off cannot keep writing through edits.
    const ownMessage = await send(patient, channelId, 'Before messaging was turned off');
    await ok(server.url, org.serviceToken, PatientUpsertDocument, { input: { externalId: patient.externalId, name: 'Pat Messages', messagingEnabled: false } });
    try {
      expect(codes((await ok(server.url, patient.token, MessageEditDocument, { input: { messageId: ownMessage.message!.id, body: 'sneaky' } })).messageEdit)).toEqual(['PATIENT_NOT_MESSAGEABLE']);
      expect(codes((await ok(server.url, patient.token, ReactionAddDocument, { input: { messageId: ownMessage.message!.id, emoji: '👍' } })).reactionAdd)).toEqual(['PATIENT_NOT_MESSAGEABLE']);
    } finally {
      await ok(server.url, org.serviceToken, PatientUpsertDocument, { input: { externalId: patient.externalId, name: 'Pat Messages', messagingEnabled: true } });
    }
    const tooLong = await ok(server.url, patient.token, MessageEditDocument, { input: { messageId: byPatient.message!.id, body: 'x'.repeat(100_001) } });
    expect(codes(tooLong.messageEdit)).toEqual(['BODY_TOO_LONG']);
  });
});

describe('reactions', () => {
  it('one of each emoji per person; counts and reactedByMe per caller; taking one back; members are told live', async () => {
    const sent = await send(clinician, channelId, 'Your results are normal');
    const messageId = sent.message!.id;
    const react = (who: Person, emoji: string) => ok(server.url, who.token, ReactionAddDocument, { input: { messageId, emoji } });
    const before = server.deps.live.streamCount;
    const stream = subscribe(server.wsUrl, clinician.token, ChannelEventsDocument, { channelId });
    await eventually(() => server.deps.live.streamCount > before);
    try {
      expect((await react(patient, '👍')).reactionAdd.reaction).toEqual({ emoji: '👍', count: 1, reactedByMe: true });
      expect((await stream.next()).data?.channelEvents.type).toBe('REACTION_CHANGED');
      await react(patient, '👍');
      await react(colleague, '👍');
      await react(patient, '❤️');
      await react(patient, '👨‍👩‍👧');
      const mine = await ok(server.url, patient.token, ReactionsDocument, { id: messageId });
      expect(mine.message!.reactions).toEqual([
        { emoji: '👍', count: 2, reactedByMe: true },
        { emoji: '❤️', count: 1, reactedByMe: true },
        { emoji: '👨‍👩‍👧', count: 1, reactedByMe: true },
      ]);
      const removed = await ok(server.url, patient.token, ReactionRemoveDocument, { input: { messageId, emoji: '👍' } });
      expect(removed.reactionRemove.reaction).toEqual({ emoji: '👍', count: 1, reactedByMe: false });
      const theirs = await ok(server.url, colleague.token, ReactionsDocument, { id: messageId });
      expect(theirs.message!.reactions[0]).toEqual({ emoji: '👍', count: 1, reactedByMe: true });
    } finally {
      await stream.close();
    }
  });

  it('denied: not an emoji, two emoji, a deleted message, a message the caller cannot see, more than 20 kinds per person; nothing changes', async () => {
    const sent = await send(clinician, channelId, 'React to me');
    const messageId = sent.message!.id;
    for (const emoji of ['lol', '👍👍', '', ':)', 'a👍']) {
      const refused = await ok(server.url, patient.token, ReactionAddDocument, { input: { messageId, emoji } });
      expect(refused.reactionAdd.userErrors[0]).toMatchObject({ code: 'INVALID_EMOJI', field: 'input.emoji' });
    }
    const note = await send(clinician, channelId, 'Internal', { internal: true });
    expect(codes((await ok(server.url, patient.token, ReactionAddDocument, { input: { messageId: note.message!.id, emoji: '👍' } })).reactionAdd)).toEqual(['NOT_FOUND']);
    const many = ['😀', '😃', '😄', '😁', '😆', '😅', '😂', '🙂', '🙃', '😉', '😊', '😇', '🥰', '😍', '🤩', '😘', '😗', '😚', '😙', '😋'];
    const crowded = (await send(clinician, channelId, 'Crowded')).message!.id;
    for (const emoji of many) expect((await ok(server.url, colleague.token, ReactionAddDocument, { input: { messageId: crowded, emoji } })).reactionAdd.userErrors).toEqual([]);
    expect((await ok(server.url, colleague.token, ReactionAddDocument, { input: { messageId: crowded, emoji: '😛' } })).reactionAdd.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: 'input.emoji' });
    await ok(server.url, clinician.token, MessageDeleteDocument, { input: { messageId } });
    expect(codes((await ok(server.url, patient.token, ReactionAddDocument, { input: { messageId, emoji: '👍' } })).reactionAdd)).toEqual(['MESSAGE_DELETED']);
    expect((await ok(server.url, clinician.token, ReactionsDocument, { id: messageId })).message!.reactions).toEqual([]);
  });
});

describe('markdown bodies', () => {
  it('are stored as written; the html field is safe to insert; links are extracted', async () => {
    const body = '**Bold** ~~old~~ <img src=x onerror=alert(1)> [click](javascript:alert(1)) [book](https://clinic.example/book)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nsee https://www.example.com/info';
    const sent = await send(clinician, channelId, body);
    const rendered = await ok(server.url, patient.token, RenderedDocument, { id: sent.message!.id });
    expect(rendered.message!.body).toBe(body);
    const html = rendered.message!.html;
    expect(html).toContain('<strong>Bold</strong>');
    expect(html).toContain('<s>old</s>');
    expect(html).toContain('<table>');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toMatch(/<img|href="javascript|<script/i);
    expect(html).toContain('<a href="https://clinic.example/book" rel="noopener noreferrer nofollow" target="_blank">book</a>');
    expect(rendered.message!.links).toEqual(['https://clinic.example/book', 'https://www.example.com/info']);
  });
});

describe('messageSearch', () => {
  it('finds words with stemming and phrases, newest first, page by page, only in the caller’s channels', async () => {
    const token = `zyx${Date.now()}`;
    await send(clinician, channelId, `Your blood results ${token} came back normal`);
    await send(patient, channelId, `Thanks, what about the ${token} cholesterol result?`);
    await send(clinician, channelId, `Internal: ${token} cholesterol borderline`, { internal: true });
    const deleted = await send(patient, channelId, `Delete me ${token}`);
    await ok(server.url, patient.token, MessageDeleteDocument, { input: { messageId: deleted.message!.id } });

    const staffHits = await ok(server.url, clinician.token, MessageSearchDocument, { query: `${token} result` });
    // "result" finds "results" too (English stemming).
    expect(staffHits.messageSearch.edges.map((edge) => edge.node.body)).toEqual([`Thanks, what about the ${token} cholesterol result?`, `Your blood results ${token} came back normal`]);
    const staffNotes = await ok(server.url, clinician.token, MessageSearchDocument, { query: `${token} cholesterol` });
    expect(staffNotes.messageSearch.edges.map((edge) => edge.node.internal)).toEqual([true, false]);
    const patientHits = await ok(server.url, patient.token, MessageSearchDocument, { query: `${token} cholesterol` });
    expect(patientHits.messageSearch.edges.map((edge) => edge.node.body)).toEqual([`Thanks, what about the ${token} cholesterol result?`]);
    const phrase = await ok(server.url, patient.token, MessageSearchDocument, { query: `"blood results" ${token}` });
    expect(phrase.messageSearch.edges).toHaveLength(1);

    const page1 = await ok(server.url, clinician.token, MessageSearchDocument, { query: token, first: 2 });
    const page2 = await ok(server.url, clinician.token, MessageSearchDocument, { query: token, first: 2, after: page1.messageSearch.pageInfo.endCursor });
    const all = [...page1.messageSearch.edges, ...page2.messageSearch.edges].map((edge) => edge.node.body);
    expect(all).toHaveLength(3);
    expect(new Set(all).size).toBe(3);
    expect(all.some((body) => body.startsWith('Delete me'))).toBe(false);
  });

  it('denied: another patient, or staff outside the channel, find nothing; bad queries are refused', async () => {
    const token = `qwv${Date.now()}`;
    await send(patient, channelId, `Private ${token}`);
    const stranger = await org.addPatient('Stranger Search');
    const outsider = await org.addStaff('Dr Outside Search');
    expect((await ok(server.url, stranger.token, MessageSearchDocument, { query: token })).messageSearch.edges).toEqual([]);
    expect((await ok(server.url, outsider.token, MessageSearchDocument, { query: token, channelId })).messageSearch.edges).toEqual([]);
    for (const query of ['   ', '-cholesterol', 'the and of']) {
      const refused = await request(server.url, patient.token, MessageSearchDocument, { query });
      expect(refused.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    }
  });
});
