import { parse } from 'graphql';
import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { eventually, ok, subscribe, type Subscription } from './support/client';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ChannelMarkReadDocument, GroupChannelCreateDocument, MessageSendDocument } from './generated/graphql';
import { buildContractSchema } from '../src/graphql/schema';
import { shareability, sharedExecutionStats } from '../src/realtime/shared-execution';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

/** One execution per event and visibility class, and never one class's result for another. */
let server: TestServer;
let org: TestOrganisation;
let manager: Person;
const staff: Person[] = [];
const patients: Person[] = [];
let channelId: string;

const EVENTS = parse(`subscription($c: ID!) { channelEvents(channelId: $c) { type message { id body author { __typename ... on TeamMember { id name email } ... on Patient { id displayName realName: name } } } } }`) as TypedDocumentNode<
  { channelEvents: { type: string; message: { id: string; author: { __typename: string; email?: string | null; name?: string | null; realName?: string | null } | null } | null } },
  { c: string }
>;

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  manager = await org.addStaff('Mona Manager', ['MESSAGING_MANAGEMENT']);
  for (let i = 0; i < 4; i++) staff.push(await org.addStaff(`Staff ${i}`));
  for (let i = 0; i < 4; i++) patients.push(await org.addPatient(`Patient ${i}`));
  const created = await ok(server.url, manager.token, GroupChannelCreateDocument, {
    input: { title: 'Shared group', teamMemberIds: staff.map((person) => person.id), patientIds: patients.map((person) => person.id) },
  });
  channelId = created.groupChannelCreate.channel!.id;
});
afterAll(() => server.close());

/** Opens everyone's stream (after those of earlier tests have closed) once the server has set them all up. */
async function openAll(people: Person[]): Promise<Array<Subscription<any>>> {
  await eventually(() => server.deps.live.streamCount === 0);
  const before = 0;
  const streams = people.map((person) => subscribe(server.wsUrl, person.token, EVENTS, { c: channelId }));
  await eventually(() => server.deps.live.streamCount === before + people.length);
  return streams;
}

const nextMessage = async (stream: Subscription<any>) => {
  for (;;) {
    const event = await stream.next();
    if (event.data?.channelEvents.type === 'MESSAGE_SENT') return event.data.channelEvents.message;
  }
};

describe('which selections may be shared', () => {
  const schema = buildContractSchema();
  const plan = (query: string) => shareability(schema, parse(query));

  it('allowed: the event, its message, author and member fields, with the variables the selection uses', () => {
    expect(plan('subscription($c: ID!) { channelEvents(channelId: $c) { cursor type message { id body html author { ... on TeamMember { name } ... on Patient { displayName } } } member { id } } }')).toMatchObject({ variables: [] });
    expect(plan('subscription($c: ID!, $full: Boolean!) { channelEvents(channelId: $c) { type message { id body @include(if: $full) } } }')).toMatchObject({ variables: ['full'] });
    expect(plan('subscription($c: ID!, $on: Boolean!) { channelEvents(channelId: $c) @include(if: $on) { type } }')).toMatchObject({ variables: ['on'] });
  });

  it('denied: anything that differs per subscriber, and other streams', () => {
    expect(plan('subscription($c: ID!) { channelEvents(channelId: $c) { message { reactions { emoji reactedByMe } } } }')).toBeUndefined();
    expect(plan('subscription($c: ID!) { channelEvents(channelId: $c) { channel { myMembership { lastReadAt } } } }')).toBeUndefined();
    expect(plan('subscription($c: ID!) { channelEvents(channelId: $c) { channel { unreadCount members { edges { node { id } } } } } }')).toBeUndefined();
    expect(plan('subscription($c: ID!) { channelEvents(channelId: $c) { message { unreadReplyCount threadParticipants { __typename } } } }')).toBeUndefined();
    expect(plan('subscription { inboxEvents { type } }')).toBeUndefined();
    // The parent's author is not among the people the event names.
    expect(plan('subscription($c: ID!) { channelEvents(channelId: $c) { message { parent { author { ... on Patient { name email phone } } } } } }')).toBeUndefined();
    // A second selection of the root field (merged at execution) is never checked half-way.
    expect(plan('subscription($c: ID!) { channelEvents(channelId: $c) { type } channelEvents(channelId: $c) { channel { myMembership { lastReadAt } } } }')).toBeUndefined();
    expect(plan('subscription($c: ID!) { channelEvents(channelId: $c) { type } ... { channelEvents(channelId: $c) { channel { unreadCount } } } }')).toBeUndefined();
  });
});

it('a staff message to a group is executed once per class: all staff share one result, all patients another, and neither sees the other’s', async () => {
  const [staffStreams, patientStreams] = await openAll([...staff, ...patients]).then((all) => [all.slice(0, staff.length), all.slice(staff.length)]);
  const before = { ...sharedExecutionStats };
  const sent = await ok(server.url, manager.token, MessageSendDocument, { input: { channelId, body: 'Session moved to Thursday' } });
  const seenByStaff = await Promise.all(staffStreams.map(nextMessage));
  const seenByPatients = await Promise.all(patientStreams.map(nextMessage));
  for (const message of seenByStaff) expect(message).toMatchObject({ id: sent.messageSend.message!.id, author: { __typename: 'TeamMember', email: expect.stringContaining('@') } });
  // Patients never get the staff class's result: no email of a team member.
  for (const message of seenByPatients) expect(message).toMatchObject({ id: sent.messageSend.message!.id, author: { __typename: 'TeamMember', email: null } });
  expect(sharedExecutionStats.executed - before.executed).toBe(2);
  expect(sharedExecutionStats.reused - before.reused).toBe(staff.length + patients.length - 2);
  await Promise.all([...staffStreams, ...patientStreams].map((stream) => stream.close()));
});

it('a patient’s own message is theirs alone: the author gets their real name, the other patients only the display name', async () => {
  const [author, ...others] = patients;
  const streams = await openAll(patients);
  const sent = await ok(server.url, author.token, MessageSendDocument, { input: { channelId, body: 'Can I bring my sister?' } });
  const [own, ...rest] = await Promise.all(streams.map(nextMessage));
  expect(own).toMatchObject({ id: sent.messageSend.message!.id, author: { __typename: 'Patient', realName: 'Patient 0' } });
  for (const message of rest) expect(message).toMatchObject({ id: sent.messageSend.message!.id, author: { __typename: 'Patient', realName: null } });
  expect(others).toHaveLength(3);
  await Promise.all(streams.map((stream) => stream.close()));
});

it('denied: subscribers of one document with two operations share nothing across operations, nor per-person fields (the plan is per operation)', async () => {
  // One text, two operations; subscribers of the same text share one parsed document.
  const text = `subscription Shared($c: ID!) { channelEvents(channelId: $c) { type } }
    subscription PerPerson($c: ID!) { channelEvents(channelId: $c) { type channel { unreadCount myMembership { lastReadAt } } } }`;
  const open = (person: Person, operationName: string) => {
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${person.token}` }, retryAttempts: 0, lazy: true });
    const received: any[] = [];
    client.subscribe({ query: text, operationName, variables: { c: channelId } }, { next: (value) => void received.push(value), error: () => undefined, complete: () => undefined });
    return { client, received };
  };
  await eventually(() => server.deps.live.streamCount === 0);
  // The shareable operation is subscribed first, so its plan would be found first.
  const first = open(staff[0], 'Shared');
  await eventually(() => server.deps.live.streamCount === 1);
  // Staff 1 has read everything so far; staff 2 has not.
  const latest = await ok(server.url, manager.token, MessageSendDocument, { input: { channelId, body: 'Before the read mark' } });
  await ok(server.url, staff[1].token, ChannelMarkReadDocument, { input: { channelId, messageId: latest.messageSend.message!.id } });
  const reader = open(staff[1], 'PerPerson');
  const unread = open(staff[2], 'PerPerson');
  await eventually(() => server.deps.live.streamCount === 3);
  await ok(server.url, manager.token, MessageSendDocument, { input: { channelId, body: 'After the read mark' } });
  const sentEvent = (subscriber: { received: any[] }) => subscriber.received.find((value) => value.data?.channelEvents?.type === 'MESSAGE_SENT')?.data.channelEvents;
  await eventually(() => [first, reader, unread].every((subscriber) => sentEvent(subscriber)));
  expect(sentEvent(first)).toEqual({ type: 'MESSAGE_SENT' });
  expect(sentEvent(reader).channel).toMatchObject({ unreadCount: 1, myMembership: { lastReadAt: expect.any(String) } });
  expect(sentEvent(unread).channel.myMembership.lastReadAt).toBeNull();
  expect(sentEvent(unread).channel.unreadCount).toBeGreaterThan(1);
  await Promise.all([first, reader, unread].map((subscriber) => subscriber.client.dispose()));
});
