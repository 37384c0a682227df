import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { print } from 'graphql';
import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { errorCodes, eventually, ok, request, subscribe } from './support/client';
import { actions, codes } from './support/actions';
import {
  ChannelEventsDocument,
  ChannelJoinDocument,
  ChannelMarkReadDocument,
  InboxEventsDocument,
  MessageDeleteDocument,
  MessageSearchDocument,
  NoteRoutesDocument,
  NoteThreadDocument,
  ReactionAddDocument,
  RoleGroupsDocument,
  SendAddressedDocument,
  TeamMemberArchiveDocument,
  TeamMemberUpsertDocument,
} from './generated/graphql';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const { send, post, activate } = actions(() => server, { sendDocument: SendAddressedDocument });

interface Team {
  org: TestOrganisation;
  author: Person;
  billing: Person;
  outsider: Person;
  admin: Person;
  patient: Person;
  channelId: string;
}

/** A care-team channel with the note's author, a member of "Billing", a clinician outside it and a messaging admin in it. */
async function team(): Promise<Team> {
  const org = await createOrganisation(server);
  const author = await org.addStaff('Nora Nurse', [], ['Nurse']);
  const billing = await org.addStaff('Bill Billing', [], ['Billing', 'Reception']);
  const outsider = await org.addStaff('Otto Outside', [], ['Clinician']);
  const admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN'], ['Clinician']);
  const patient = await org.addPatient('Paula Patient');
  const { id: channelId } = await activate(author, patient);
  for (const who of [billing, outsider, admin]) {
    expect((await ok(server.url, who.token, ChannelJoinDocument, { input: { channelId } })).channelJoin.userErrors).toEqual([]);
  }
  return { org, author, billing, outsider, admin, patient, channelId };
}

const routes = (who: Person, channelId: string) => ok(server.url, who.token, NoteRoutesDocument, { id: channelId });
const bodies = async (who: Person, channelId: string) => (await routes(who, channelId)).channel!.messages.edges.map((edge) => edge.node.body);
const searched = async (who: Person, text: string) => (await ok(server.url, who.token, MessageSearchDocument, { query: text, first: 10 })).messageSearch.edges.map((edge) => edge.node.body);

describe('internal notes addressed to role groups', () => {
  it('are seen by team members in the role groups, the author and messaging admins on every route: pages, lookups, threads, counts, lastMessage, search', async () => {
    const t = await team();
    await post(t.patient, t.channelId, 'Can I pay my bill online?');
    const note = await post(t.author, t.channelId, 'Invoice 4417 is overdue: please call them', { internal: true, audienceRoles: ['Billing'] });
    expect(note).toMatchObject({ internal: true, audienceRoles: ['Billing'] });
    const reply = await post(t.billing, t.channelId, 'Calling them this afternoon', { parentMessageId: note.id });
    // A reply shares its thread's audience without being asked.
    expect(reply).toMatchObject({ internal: true, audienceRoles: ['Billing'] });

    for (const reader of [t.billing, t.author, t.admin]) {
      const seen = (await routes(reader, t.channelId)).channel!;
      expect(seen.messages.edges.map((edge) => edge.node)).toContainEqual(expect.objectContaining({ id: note.id, audienceRoles: ['Billing'], replyCount: 1 }));
      expect(seen.lastMessage!.id).toBe(note.id);
      const thread = (await ok(server.url, reader.token, NoteThreadDocument, { id: note.id })).message!;
      expect(thread.replies.edges.map((edge) => edge.node.body)).toEqual(['Calling them this afternoon']);
      expect(await searched(reader, 'overdue invoice')).toEqual(['Invoice 4417 is overdue: please call them']);
    }
    // Unread: the note (and the reply) count for the admin, who wrote neither.
    expect((await routes(t.admin, t.channelId)).channel!.unreadCount).toBe(3);
  });

  it('denied: a team member of the channel outside the role groups, and the patient, get what a random id gets on every route; their counts leave it out', async () => {
    const t = await team();
    await post(t.patient, t.channelId, 'Can I pay my bill online?');
    const note = await post(t.author, t.channelId, 'Invoice 4417 is overdue: please call them', { internal: true, audienceRoles: ['Billing'] });
    await post(t.billing, t.channelId, 'Calling them this afternoon', { parentMessageId: note.id });

    for (const reader of [t.outsider, t.patient]) {
      const seen = await routes(reader, t.channelId);
      expect(seen.channel!.messages.edges.map((edge) => edge.node.body)).toEqual(['Can I pay my bill online?']);
      expect(seen.channel!.lastMessage!.body).toBe('Can I pay my bill online?');
      expect(seen.channel!.unreadCount).toBe(reader === t.patient ? 0 : 1);
      expect(seen.badgeCount).toBe(reader === t.patient ? 0 : 1);
      expect((await ok(server.url, reader.token, NoteThreadDocument, { id: note.id })).message).toBeNull();
      expect(await searched(reader, 'overdue invoice')).toEqual([]);
      expect(await searched(reader, 'afternoon')).toEqual([]);
    }
    // Acting on it is refused as for a message that does not exist, and changes nothing.
    expect(codes((await ok(server.url, t.outsider.token, ReactionAddDocument, { input: { messageId: note.id, emoji: '👍' } })).reactionAdd)).toEqual(['NOT_FOUND']);
    expect(codes(await send(t.outsider, t.channelId, 'Me too', { parentMessageId: note.id }))).toEqual(['NOT_FOUND']);
    const adminDeletes = await ok(server.url, t.outsider.token, MessageDeleteDocument, { input: { messageId: note.id } });
    expect(codes(adminDeletes.messageDelete)).toEqual(['NOT_FOUND']);
    expect(await bodies(t.billing, t.channelId)).toContain('Invoice 4417 is overdue: please call them');
  });

  it('reach live streams (channelEvents and inboxEvents) of their audience only; taking the role away stops them at once', async () => {
    const t = await team();
    const billingChannel = subscribe(server.wsUrl, t.billing.token, ChannelEventsDocument, { channelId: t.channelId });
    const billingInbox = subscribe(server.wsUrl, t.billing.token, InboxEventsDocument, {});
    const outsiderChannel = subscribe(server.wsUrl, t.outsider.token, ChannelEventsDocument, { channelId: t.channelId });
    const outsiderInbox = subscribe(server.wsUrl, t.outsider.token, InboxEventsDocument, {});
    const streams = [billingChannel, billingInbox, outsiderChannel, outsiderInbox];
    try {
      await eventually(() => server.deps.live.streamCount >= 4);

      await post(t.author, t.channelId, 'Billing: invoice 4417 is overdue', { internal: true, audienceRoles: ['Billing'] });
      await post(t.author, t.channelId, 'Ward round at ten');
      const bodyOf = (result: Awaited<ReturnType<(typeof streams)[number]['next']>>) =>
        (result.data as { channelEvents?: { message?: { body: string } }; inboxEvents?: { message?: { body: string } } }).channelEvents?.message?.body ??
        (result.data as { inboxEvents?: { message?: { body: string } } }).inboxEvents?.message?.body;
      for (const stream of [billingChannel, billingInbox]) {
        expect(bodyOf(await stream.next())).toBe('Billing: invoice 4417 is overdue');
        expect(bodyOf(await stream.next())).toBe('Ward round at ten');
      }
      for (const stream of [outsiderChannel, outsiderInbox]) expect(bodyOf(await stream.next())).toBe('Ward round at ten');

      // The directory takes "Billing" away: the next note to Billing no longer reaches them, stream open or not.
      const changed = await ok(server.url, t.org.serviceToken, TeamMemberUpsertDocument, {
        input: { externalId: t.billing.externalId, name: 'Bill Billing', roles: ['Reception'] },
      });
      expect(changed.teamMemberUpsert.userErrors).toEqual([]);
      // Someone else still holds it (a note is addressed only to role groups someone holds).
      await t.org.addStaff('Second Biller', [], ['Billing']);
      await post(t.author, t.channelId, 'Billing: second reminder', { internal: true, audienceRoles: ['Billing'] });
      await post(t.author, t.channelId, 'Lunch is in', {});
      for (const stream of streams) expect(bodyOf(await stream.next())).toBe('Lunch is in');
      expect(await bodies(t.billing, t.channelId)).not.toContain('Billing: second reminder');
      for (const stream of streams) await stream.expectSilence(200);
    } finally {
      await Promise.all(streams.map((stream) => stream.close()));
    }
  });

  it('denied: once out of the role group, a replayed read mark of the note and a query over an already open socket show nothing of it', async () => {
    const t = await team();
    const before = await post(t.author, t.channelId, 'Morning all');
    const note = await post(t.author, t.channelId, 'Billing: invoice 4417 is overdue', { internal: true, audienceRoles: ['Billing'] });
    expect((await ok(server.url, t.billing.token, ChannelMarkReadDocument, { input: { channelId: t.channelId, messageId: note.id } })).channelMarkRead.userErrors).toEqual([]);
    const socket = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${t.billing.token}` }, retryAttempts: 0, lazy: false });
    const overSocket = async () => {
      for await (const result of socket.iterate({ query: print(NoteThreadDocument), variables: { id: note.id } })) return result as { data?: { message: { body: string } | null } };
      throw new Error('no result');
    };
    try {
      expect((await overSocket()).data?.message?.body).toBe('Billing: invoice 4417 is overdue');
      await ok(server.url, t.org.serviceToken, TeamMemberUpsertDocument, { input: { externalId: t.billing.externalId, name: 'Bill Billing', roles: ['Reception'] } });
      expect((await overSocket()).data?.message).toBeNull();

      const replay = subscribe(server.wsUrl, t.billing.token, ChannelEventsDocument, { channelId: t.channelId, after: before.cursor });
      try {
        // The note's own event is not theirs any more; their read mark still is, without the note.
        expect((await replay.next()).data?.channelEvents).toMatchObject({ type: 'READ_MARKED', message: null });
      } finally {
        await replay.close();
      }
    } finally {
      await socket.dispose();
    }
  });

  it('denied: addressing needs an internal note, a first message of a thread, role groups someone holds, and a team member; nothing is written', async () => {
    const t = await team();
    const plain = await post(t.author, t.channelId, 'For everyone');
    const note = await post(t.author, t.channelId, 'For all staff', { internal: true });
    expect(note.audienceRoles).toBeNull();
    const attempts = [
      [t.author, { audienceRoles: ['Billing'] }, 'INVALID_INPUT'],
      [t.author, { internal: true, audienceRoles: ['Bililng'] }, 'INVALID_INPUT'],
      [t.author, { internal: true, audienceRoles: [] }, 'INVALID_INPUT'],
      [t.author, { internal: true, audienceRoles: ['Billing'], parentMessageId: plain.id }, 'INVALID_INPUT'],
      [t.author, { internal: true, audienceRoles: ['Billing'], parentMessageId: note.id }, 'INVALID_INPUT'],
      [t.patient, { internal: true, audienceRoles: ['Billing'] }, 'FORBIDDEN'],
    ] as const;
    for (const [who, extra, code] of attempts) {
      const sent = await send(who, t.channelId, 'Should not land', { ...extra, audienceRoles: [...extra.audienceRoles] });
      expect(sent.userErrors.map((error) => [error.code, error.field])).toEqual([[code, code === 'FORBIDDEN' ? 'input.internal' : 'input.audienceRoles']]);
    }
    expect(await bodies(t.admin, t.channelId)).toEqual(['For everyone', 'For all staff']);
  });

  it('roleGroups lists the role groups active team members hold, for staff and services; denied to patients', async () => {
    const t = await team();
    const gone = await t.org.addStaff('Gone Member', [], ['Former Team']);
    expect((await ok(server.url, t.outsider.token, RoleGroupsDocument, {})).roleGroups).toContain('Former Team');
    const archived = await ok(server.url, t.org.serviceToken, TeamMemberArchiveDocument, { input: { teamMemberId: gone.id } });
    expect(archived.teamMemberArchive.userErrors).toEqual([]);
    expect((await ok(server.url, t.outsider.token, RoleGroupsDocument, {})).roleGroups).toEqual(['Billing', 'Clinician', 'Nurse', 'Reception']);
    expect((await ok(server.url, t.org.serviceToken, RoleGroupsDocument, {})).roleGroups).toContain('Billing');
    expect(errorCodes(await request(server.url, t.patient.token, RoleGroupsDocument, {}))).toEqual(['FORBIDDEN']);
  });
});
