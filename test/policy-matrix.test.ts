import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { eventually, ok, request, subscribe, type Subscription } from './support/client';
import {
  ChannelActivateDocument,
  ChannelJoinDocument,
  ConversationStartDocument,
  DirectChannelOpenDocument,
  GroupChannelCreateDocument,
  PolicyBadgeDocument,
  PolicyChannelDocument,
  PolicyChannelEventsDocument,
  PolicyChannelIdsDocument,
  PolicyInboxDocument,
  PolicySearchDocument,
  PolicySendDocument,
  type PolicyChannelEventsSubscription,
  type PolicyInboxSubscription,
  ClinicConversationStartDocument,
  ClinicSettingsUpdateDocument,
} from './generated/graphql';
import type { Actor } from '../src/auth/actor';
import type { Permission } from '../src/modules/directory/team-member.entity';
import { ChannelKind, type ChannelMember } from '../src/modules/channels/channel.entity';
import { channelPolicy } from '../src/policy/channels';
import { messagePolicy } from '../src/policy/messages';
import { planMessageNotices } from '../src/modules/notifications/planner';

/**
 * The authorization table generated from the policy itself: for every kind of actor and every
 * kind of channel, the policy's own predicates (channelPolicy.canSee / canParticipate,
 * messagePolicy.canSee) say what each route must answer, and every route is asked over real
 * HTTP and WebSocket: query by id, list, search, counts (per channel and the badge), the
 * channel's event stream, the inbox stream, and the notices planned for a message. Each cell is
 * either allowed or denied, and both kinds of cell are checked on every route.
 */

type Route = 'byId' | 'list' | 'search' | 'counts' | 'subscribe' | 'inbox' | 'notification';

interface TestActor {
  name: string;
  /** The actor as the policy sees it. */
  actor: Actor;
  token: string;
  /** A team member or patient: the people routes apply (others are refused by role). */
  person: boolean;
  key?: { teamMemberId?: string; patientId?: string };
}

interface TestChannel {
  kind: ChannelKind;
  id: string;
  /** Messages by the author (S), as (id, internal). */
  messages: Array<{ id: string; internal: boolean; word: string }>;
  /** The person keys (`t:`/`p:`) of its current members, read from the database. */
  members: Set<string>;
}

let server: TestServer;
let org: TestOrganisation;
let author: Person;
const actors: TestActor[] = [];
const channels: TestChannel[] = [];

const staffActor = (org: { id: string }, person: Person, permissions: Permission[] = []): Actor => ({
  kind: 'staff',
  organisationId: org.id,
  teamMemberId: person.id,
  permissions,
  roles: [],
  expiresAt: Number.MAX_SAFE_INTEGER,
});
const patientActor = (org: { id: string }, person: Person): Actor => ({ kind: 'patient', organisationId: org.id, patientId: person.id, expiresAt: Number.MAX_SAFE_INTEGER });
const keyOf = (actor: Actor) => (actor.kind === 'staff' ? `t:${actor.teamMemberId}` : actor.kind === 'patient' ? `p:${actor.patientId}` : undefined);

/** What the policy says of an actor and a channel: the expected answer of each route. */
function expected(actor: Actor, channel: TestChannel) {
  const membership = channel.members.has(keyOf(actor) ?? '') ? ({} as ChannelMember) : undefined;
  const row = { kind: channel.kind, organisationId: org.id };
  const participates = channelPolicy.canParticipate(actor, row, membership);
  const readable = channel.messages.filter((message) => participates && messagePolicy.canSee(actor, message));
  const byOthers = keyOf(actor) === `t:${author.id}` ? [] : readable;
  return { sees: channelPolicy.canSee(actor, row, membership), participates, readable, unread: byOthers.length, notified: byOthers };
}

const cells: Array<{ route: Route; actor: string; kind: ChannelKind; allowed: boolean }> = [];
const record = (route: Route, actor: TestActor, channel: TestChannel, allowed: boolean) => cells.push({ route, actor: actor.name, kind: channel.kind, allowed });

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  const elsewhere = await createOrganisation(server);
  author = await org.addStaff('Author Staff', ['MESSAGING_MANAGEMENT']);
  const colleague = await org.addStaff('Direct Colleague');
  const bystander = await org.addStaff('Bystander Staff');
  const admin = await org.addStaff('Messaging Admin', ['MESSAGING_ADMIN']);
  const patient = await org.addPatient('Pat Matrix');
  const guardian = await org.addPatient('Gus Guardian', { guardianOfPatientIds: [patient.id] });
  const otherPatient = await org.addPatient('Olive Other');
  const outsider = await elsewhere.addStaff('Outside Admin', ['MESSAGING_ADMIN', 'MESSAGING_MANAGEMENT']);
  const operatorToken = await server.token({ role: 'operator', sub: 'matrix-operator' });

  actors.push(
    { name: 'author staff (member)', actor: staffActor(org, author, ['MESSAGING_MANAGEMENT']), token: author.token, person: true },
    { name: 'colleague staff (DIRECT member)', actor: staffActor(org, colleague), token: colleague.token, person: true },
    { name: 'staff not a member', actor: staffActor(org, bystander), token: bystander.token, person: true },
    { name: 'messaging admin not a member', actor: staffActor(org, admin, ['MESSAGING_ADMIN']), token: admin.token, person: true },
    { name: 'patient (member)', actor: patientActor(org, patient), token: patient.token, person: true },
    { name: 'guardian of the patient', actor: patientActor(org, guardian), token: guardian.token, person: true },
    { name: 'another patient', actor: patientActor(org, otherPatient), token: otherPatient.token, person: true },
    { name: 'admin of another organisation', actor: staffActor(elsewhere, outsider, ['MESSAGING_ADMIN', 'MESSAGING_MANAGEMENT']), token: outsider.token, person: true },
    { name: 'service', actor: { kind: 'service', organisationId: org.id, clientId: 'test-sync', expiresAt: Number.MAX_SAFE_INTEGER }, token: org.serviceToken, person: false },
    { name: 'operator', actor: { kind: 'operator', operatorId: 'matrix-operator', expiresAt: Number.MAX_SAFE_INTEGER }, token: operatorToken, person: false },
  );

  const activate = async (kind: 'CARE_TEAM' | 'SERVICE_TEAM' | 'STAFF') =>
    (await ok(server.url, author.token, ChannelActivateDocument, { input: { patientId: patient.id, kind } })).channelActivate.channel!.id;
  const group = await ok(server.url, author.token, GroupChannelCreateDocument, { input: { title: 'Matrix group', patientIds: [patient.id], teamMemberIds: [] } });
  const direct = await ok(server.url, author.token, DirectChannelOpenDocument, { input: { teamMemberIds: [colleague.id] } });
  const conversation = await ok(server.url, author.token, ConversationStartDocument, {
    input: { patientId: patient.id, title: 'Matrix conversation', body: 'Opening words', recipientTeamMemberIds: [author.id] },
  });
  expect(conversation.conversationStart.userErrors).toEqual([]);
  // A conversation with another clinic (the one elsewhere, which accepts them): the author's copy here.
  expect((await ok(server.url, outsider.token, ClinicSettingsUpdateDocument, { input: { clinicsCanStartConversations: true } })).messagingSettingsUpdate.userErrors).toEqual([]);
  const clinicConversation = await ok(server.url, author.token, ClinicConversationStartDocument, { input: { clinicSlug: elsewhere.slug, title: 'Matrix clinic conversation', body: 'Opening words' } });
  expect(clinicConversation.clinicConversationStart.userErrors).toEqual([]);
  const ids: Record<ChannelKind, string> = {
    CARE_TEAM: await activate('CARE_TEAM'),
    SERVICE_TEAM: await activate('SERVICE_TEAM'),
    STAFF: await activate('STAFF'),
    GROUP: group.groupChannelCreate.channel!.id,
    DIRECT: direct.directChannelOpen.channel!.id,
    CONVERSATION: conversation.conversationStart.channel!.id,
    CLINIC: clinicConversation.clinicConversationStart.channel!.id,
  };
  // A second team member in a channel with internal notes: someone besides the author to be told of one.
  await ok(server.url, colleague.token, ChannelJoinDocument, { input: { channelId: ids.CARE_TEAM } });
  for (const kind of Object.values(ChannelKind)) {
    const openingOf: Partial<Record<ChannelKind, string>> = { CONVERSATION: conversation.conversationStart.message!.id, CLINIC: clinicConversation.clinicConversationStart.message!.id };
    const opening = openingOf[kind] ? [{ id: openingOf[kind]!, internal: false, word: 'opening' }] : [];
    channels.push({ kind, id: ids[kind], messages: opening, members: new Set() });
  }
  const rows = await server.orm.em
    .fork()
    .execute<Array<{ channel_id: string; team_member_id: string | null; patient_id: string | null }>>(
      'select channel_id, team_member_id, patient_id from channel_member where organisation_id = ? and left_at is null',
      [org.id],
    );
  for (const row of rows) channels.find((channel) => channel.id === row.channel_id)!.members.add(row.team_member_id ? `t:${row.team_member_id}` : `p:${row.patient_id}`);
});

afterAll(async () => {
  await server.close();
  // Every route was asked with both answers somewhere in the table.
  for (const route of ['byId', 'list', 'search', 'counts', 'subscribe', 'inbox', 'notification'] as Route[]) {
    const answers = new Set(cells.filter((cell) => cell.route === route).map((cell) => cell.allowed));
    if (answers.size !== 2) throw new Error(`route ${route} was not checked with both allowed and denied cells`);
  }
});

describe('the policy itself', () => {
  it('says who sees which kind of channel as the README table does (S: sees, P: takes part, -: neither)', () => {
    const table = Object.fromEntries(
      actors.map((actor) => [
        actor.name,
        channels.map((channel) => {
          const cell = expected(actor.actor, channel);
          return `${channel.kind}:${cell.participates ? 'P' : cell.sees ? 'S' : '-'}`;
        }),
      ]),
    );
    expect(table).toEqual({
      'author staff (member)': ['CARE_TEAM:P', 'SERVICE_TEAM:P', 'STAFF:P', 'GROUP:P', 'DIRECT:P', 'CONVERSATION:P', 'CLINIC:P'],
      'colleague staff (DIRECT member)': ['CARE_TEAM:P', 'SERVICE_TEAM:S', 'STAFF:S', 'GROUP:-', 'DIRECT:P', 'CONVERSATION:-', 'CLINIC:-'],
      'staff not a member': ['CARE_TEAM:S', 'SERVICE_TEAM:S', 'STAFF:S', 'GROUP:-', 'DIRECT:-', 'CONVERSATION:-', 'CLINIC:-'],
      'messaging admin not a member': ['CARE_TEAM:S', 'SERVICE_TEAM:S', 'STAFF:S', 'GROUP:-', 'DIRECT:-', 'CONVERSATION:S', 'CLINIC:S'],
      'patient (member)': ['CARE_TEAM:P', 'SERVICE_TEAM:P', 'STAFF:-', 'GROUP:P', 'DIRECT:-', 'CONVERSATION:P', 'CLINIC:-'],
      'guardian of the patient': ['CARE_TEAM:P', 'SERVICE_TEAM:P', 'STAFF:-', 'GROUP:-', 'DIRECT:-', 'CONVERSATION:P', 'CLINIC:-'],
      'another patient': ['CARE_TEAM:-', 'SERVICE_TEAM:-', 'STAFF:-', 'GROUP:-', 'DIRECT:-', 'CONVERSATION:-', 'CLINIC:-'],
      'admin of another organisation': ['CARE_TEAM:-', 'SERVICE_TEAM:-', 'STAFF:-', 'GROUP:-', 'DIRECT:-', 'CONVERSATION:-', 'CLINIC:-'],
      service: ['CARE_TEAM:-', 'SERVICE_TEAM:-', 'STAFF:-', 'GROUP:-', 'DIRECT:-', 'CONVERSATION:-', 'CLINIC:-'],
      operator: ['CARE_TEAM:-', 'SERVICE_TEAM:-', 'STAFF:-', 'GROUP:-', 'DIRECT:-', 'CONVERSATION:-', 'CLINIC:-'],
    });
  });
});

describe('the authorization table follows the policy on every route', () => {
  const streams = new Map<string, Subscription<PolicyChannelEventsSubscription>>();
  const inboxes = new Map<string, Subscription<PolicyInboxSubscription>>();

  it('opens every channel and inbox stream the policy allows, and refuses every other as a random id would', async () => {
    const people = actors.filter((actor) => actor.person);
    for (const actor of people) inboxes.set(actor.name, subscribe(server.wsUrl, actor.token, PolicyInboxDocument, {}));
    for (const actor of people) for (const channel of channels) streams.set(`${actor.name}|${channel.kind}`, subscribe(server.wsUrl, actor.token, PolicyChannelEventsDocument, { channelId: channel.id }));
    const allowed = people.flatMap((actor) => channels.filter((channel) => expected(actor.actor, channel).participates).map((channel) => ({ actor, channel })));
    for (const actor of people) {
      for (const channel of channels) {
        const cell = expected(actor.actor, channel);
        record('subscribe', actor, channel, cell.participates);
        if (!cell.participates) expect([`${actor.name} ${channel.kind}`, await streams.get(`${actor.name}|${channel.kind}`)!.endCodes()]).toEqual([`${actor.name} ${channel.kind}`, ['NOT_FOUND']]);
      }
    }
    // Each allowed stream (and each inbox) is set up in this process before anything is sent.
    await eventually(() => server.deps.live.streamCount === allowed.length + people.length, 10_000);

    for (const channel of channels) {
      const send = async (body: string, internal: boolean) => {
        const sent = await ok(server.url, author.token, PolicySendDocument, { input: { channelId: channel.id, body, internal } });
        expect(sent.messageSend.userErrors).toEqual([]);
        return sent.messageSend.message!.id;
      };
      const tag = channel.kind.toLowerCase().replace('_', '');
      if (channelPolicy.holdsInternalNotes(channel.kind)) channel.messages.push({ id: await send(`Wombat${tag} note for staff`, true), internal: true, word: `wombat${tag}` });
      channel.messages.push({ id: await send(`Quokka${tag} hello`, false), internal: false, word: `quokka${tag}` });
    }
  });

  it('channelEvents: members get each message they may read, patients never an internal note; everyone else was refused', async () => {
    for (const actor of actors.filter((actor) => actor.person)) {
      for (const channel of channels) {
        const cell = expected(actor.actor, channel);
        if (!cell.participates) continue;
        const stream = streams.get(`${actor.name}|${channel.kind}`)!;
        const last = channel.messages[channel.messages.length - 1].id;
        const seen: string[] = [];
        while (!seen.includes(last)) {
          const event = await stream.next();
          if (event.data?.channelEvents.type === 'MESSAGE_SENT') seen.push(event.data.channelEvents.message!.id);
        }
        const fresh = channel.messages.filter((message) => message.word !== 'opening');
        expect([actor.name, channel.kind, seen]).toEqual([actor.name, channel.kind, fresh.filter((message) => messagePolicy.canSee(actor.actor, message)).map((message) => message.id)]);
        await stream.close();
      }
    }
  });

  it('inboxEvents: a message reaches the inboxes of those who take part, internal notes only staff', async () => {
    for (const actor of actors.filter((actor) => actor.person)) {
      const inbox = inboxes.get(actor.name)!;
      const want = channels.flatMap((channel) => expected(actor.actor, channel).readable.filter((message) => message.word !== 'opening').map((message) => message.id));
      const seen: string[] = [];
      if (want.length > 0) {
        while (!want.every((id) => seen.includes(id))) {
          const event = await inbox.next();
          if (event.data?.inboxEvents.type === 'MESSAGE_SENT') seen.push(event.data.inboxEvents.message!.id);
        }
      }
      await inbox.expectSilence(200);
      expect([actor.name, seen.sort()]).toEqual([actor.name, [...want].sort()]);
      for (const channel of channels) record('inbox', actor, channel, expected(actor.actor, channel).participates);
      await inbox.close();
    }
  });

  it('channel(id) answers exactly when the policy lets the caller see the channel, and `channels` lists exactly those they take part in', async () => {
    for (const actor of actors) {
      const listed = await request(server.url, actor.token, PolicyChannelIdsDocument, {});
      const listedIds = new Set(listed.data?.channels.edges.map((edge) => edge.node.id) ?? []);
      for (const channel of channels) {
        const cell = expected(actor.actor, channel);
        const byId = await request(server.url, actor.token, PolicyChannelDocument, { id: channel.id });
        expect([actor.name, channel.kind, byId.data?.channel?.id ?? null]).toEqual([actor.name, channel.kind, cell.sees ? channel.id : null]);
        expect([actor.name, channel.kind, listedIds.has(channel.id)]).toEqual([actor.name, channel.kind, cell.participates]);
        record('byId', actor, channel, cell.sees);
        record('list', actor, channel, cell.participates);
      }
    }
  });

  it('search finds exactly the messages the policy lets the caller read', async () => {
    const words = channels.flatMap((channel) => channel.messages.map((message) => message.word)).filter((word) => word !== 'opening');
    for (const actor of actors) {
      const found = await request(server.url, actor.token, PolicySearchDocument, { query: words.join(' or ') });
      const foundIds = new Set(found.data?.messageSearch.edges.map((edge) => edge.node.id) ?? []);
      const want = channels.flatMap((channel) => expected(actor.actor, channel).readable.filter((message) => message.word !== 'opening').map((message) => message.id));
      expect([actor.name, [...foundIds].sort()]).toEqual([actor.name, want.sort()]);
      for (const channel of channels) record('search', actor, channel, expected(actor.actor, channel).participates);
    }
  });

  it('unread counts and the badge count exactly the messages by others the caller may read', async () => {
    for (const actor of actors) {
      let badge = 0;
      for (const channel of channels) {
        const cell = expected(actor.actor, channel);
        const byId = await request(server.url, actor.token, PolicyChannelDocument, { id: channel.id });
        if (cell.sees) expect([actor.name, channel.kind, byId.data?.channel?.unreadCount]).toEqual([actor.name, channel.kind, cell.participates ? cell.unread : 0]);
        badge += cell.unread;
        record('counts', actor, channel, cell.unread > 0);
      }
      const counted = await request(server.url, actor.token, PolicyBadgeDocument, {});
      expect([actor.name, counted.data?.badgeCount ?? null]).toEqual([actor.name, actor.person ? badge : null]);
    }
  });

  it('notices are planned for exactly the members who may read the message (never its author, internal notes staff only)', async () => {
    // The first message of each channel: later ones may fold into its waiting notice (one notice per burst).
    const em = server.orm.em.fork();
    for (const channel of channels) {
      const [first] = channel.messages;
      await planMessageNotices(em, server.deps.config.notifications, org.id, first.id, new Map());
      const rows = await em.execute<Array<{ team_member_id: string | null; patient_id: string | null }>>(
        'select distinct team_member_id, patient_id from notification where organisation_id = ? and message_id = ?',
        [org.id, first.id],
      );
      const told = new Set(rows.map((row) => (row.team_member_id ? `t:${row.team_member_id}` : `p:${row.patient_id}`)));
      for (const actor of actors) {
        const want = expected(actor.actor, channel).notified.some((message) => message.id === first.id);
        expect([actor.name, channel.kind, first.internal, told.has(keyOf(actor.actor) ?? '')]).toEqual([actor.name, channel.kind, first.internal, want]);
        record('notification', actor, channel, want);
      }
    }
  });
});
