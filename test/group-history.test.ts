import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person } from './support/fixtures';
import { ok, subscribe, eventually } from './support/client';
import { actions, codes } from './support/actions';
import {
  ChannelEventsDocument,
  ChannelMembersAddDocument,
  GroupChannelCreateDocument,
  GroupViewDocument,
  MessageSearchDocument,
  MessagingSettingsUpdateDocument,
  ReactionAddDocument,
  ReplyWithParentDocument,
} from './generated/graphql';

/*
 * A patient added to a group (a therapy or education programme) sees what is written from their
 * joining on: other patients' earlier messages are not theirs to read, unless the organisation's
 * `groupHistory` setting says EVERYTHING. Staff always see everything.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());
const { send, post } = actions(() => server);

interface Group {
  admin: Person;
  lead: Person;
  first: Person;
  late: Person;
  groupId: string;
  earlier: { id: string };
  replyAfter: { id: string };
}

async function group(): Promise<Group> {
  const org = await createOrganisation(server);
  const admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN']);
  const lead = await org.addStaff('Gail Lead', ['MESSAGING_MANAGEMENT']);
  const first = await org.addPatient('Fay First');
  const late = await org.addPatient('Lou Late');
  const created = await ok(server.url, lead.token, GroupChannelCreateDocument, { input: { title: 'Tuesday group', patientIds: [first.id] } });
  const groupId = created.groupChannelCreate.channel!.id;
  const earlier = await post(first, groupId, 'My story from before: the diagnosis was hard');
  await post(lead, groupId, 'Thank you for sharing', { parentMessageId: earlier.id });
  expect((await ok(server.url, lead.token, ChannelMembersAddDocument, { input: { channelId: groupId, patientIds: [late.id] } })).channelMembersAdd.userErrors).toEqual([]);
  await post(first, groupId, 'Welcome, Lou');
  const replyAfter = await post(lead, groupId, 'Coming back to this', { parentMessageId: earlier.id });
  return { admin, lead, first, late, groupId, earlier, replyAfter };
}

const view = async (who: Person, id: string) => (await ok(server.url, who.token, GroupViewDocument, { id })).channel!;
const searched = async (who: Person, text: string) => (await ok(server.url, who.token, MessageSearchDocument, { query: text })).messageSearch.edges.map((edge) => edge.node.body);

describe('group history for patients added later', () => {
  it('denied (the default): pages, lookups, threads, search and reactions show nothing written before they joined', async () => {
    const g = await group();
    const seen = await view(g.late, g.groupId);
    expect(seen.messages.edges.map((edge) => edge.node.body)).toEqual(['Welcome, Lou']);
    expect(seen.lastMessage!.body).toBe('Welcome, Lou');
    expect(await searched(g.late, 'diagnosis')).toEqual([]);
    expect((await ok(server.url, g.late.token, ReplyWithParentDocument, { id: g.earlier.id })).message).toBeNull();
    // A reply written after they joined is theirs to read; its thread's first message is not.
    expect((await ok(server.url, g.late.token, ReplyWithParentDocument, { id: g.replyAfter.id })).message).toMatchObject({ body: 'Coming back to this', parent: null });
    expect(codes((await ok(server.url, g.late.token, ReactionAddDocument, { input: { messageId: g.earlier.id, emoji: '👍' } })).reactionAdd)).toEqual(['NOT_FOUND']);
    expect(codes(await send(g.late, g.groupId, 'Me too', { parentMessageId: g.earlier.id }))).toEqual(['NOT_FOUND']);
  });

  it('allowed: staff and the patients who were there see everything', async () => {
    const g = await group();
    for (const who of [g.lead, g.first]) {
      expect((await view(who, g.groupId)).messages.edges.map((edge) => edge.node.body)).toEqual(['My story from before: the diagnosis was hard', 'Welcome, Lou']);
      expect(await searched(who, 'diagnosis')).toEqual(['My story from before: the diagnosis was hard']);
    }
  });

  it('allowed: with groupHistory EVERYTHING a patient added later reads the whole group', async () => {
    const g = await group();
    const saved = await ok(server.url, g.admin.token, MessagingSettingsUpdateDocument, { input: { groupHistory: 'EVERYTHING' } });
    expect(saved.messagingSettingsUpdate.userErrors).toEqual([]);
    expect((await view(g.late, g.groupId)).messages.edges.map((edge) => edge.node.body)).toEqual(['My story from before: the diagnosis was hard', 'Welcome, Lou']);
    expect((await ok(server.url, g.late.token, ReplyWithParentDocument, { id: g.replyAfter.id })).message!.parent).toMatchObject({ id: g.earlier.id });
  });

  it('live: a reaction to an earlier message reaches a patient added later without the message', async () => {
    const g = await group();
    const before = server.deps.live.streamCount;
    const stream = subscribe(server.wsUrl, g.late.token, ChannelEventsDocument, { channelId: g.groupId });
    try {
      await eventually(() => server.deps.live.streamCount > before);
      await ok(server.url, g.first.token, ReactionAddDocument, { input: { messageId: g.earlier.id, emoji: '❤️' } });
      expect((await stream.next()).data?.channelEvents).toMatchObject({ type: 'REACTION_CHANGED', message: null });
    } finally {
      await stream.close();
    }
  });
});
