import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { ok, subscribe } from './support/client';
import { actions, codes } from './support/actions';
import {
  ChannelEventsDocument,
  ChannelJoinDocument,
  ConversationCloseDocument,
  ReactionAddDocument,
  ConversationAsResponderDocument,
  ConversationStartDocument,
  IncomingConversationsDocument,
  MessagingSettingsUpdateDocument,
  PatientProfileDocument,
} from './generated/graphql';

const ROLE_GROUP = 'Appointment Reminder Admin';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const { send } = actions(() => server);

interface Clinic {
  org: TestOrganisation;
  admin: Person;
  roleGroupMember: Person;
  outsider: Person;
  patient: Person;
}

/** An organisation whose patients start conversations, with a member of the new-patient-message role group and a team member outside it (a clinician). */
async function clinic(settings: Record<string, unknown>): Promise<Clinic> {
  const org = await createOrganisation(server);
  const admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN']);
  const roleGroupMember = await org.addStaff('Rita Reception', [], [ROLE_GROUP]);
  const outsider = await org.addStaff('Otto Outside', [], ['Clinician']);
  // No allocation clinician: nobody is added to what the patient starts.
  const patient = await org.addPatient('Paula Patient');
  const updated = await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { patientsCanStartConversations: true, ...settings } });
  expect(updated.messagingSettingsUpdate.userErrors).toEqual([]);
  return { org, admin, roleGroupMember, outsider, patient };
}

async function patientStarts(patient: Person, title = 'Can I change my appointment?'): Promise<string> {
  const started = await ok(server.url, patient.token, ConversationStartDocument, { input: { title, body: 'Tuesday does not work for me any more.' } });
  expect(started.conversationStart.userErrors).toEqual([]);
  return started.conversationStart.channel!.id;
}

const open = (who: Person, id: string) => ok(server.url, who.token, ConversationAsResponderDocument, { id });
const incomingIds = async (who: Person) => (await ok(server.url, who.token, IncomingConversationsDocument, { first: 50 })).incomingConversations.edges.map((edge) => edge.node.channel.id);

/** Everything a team member outside the audience tries gets what a random id gets. */
async function expectShutOut(who: Person, channelId: string, patientId: string) {
  expect((await open(who, channelId)).channel).toBeNull();
  expect(await incomingIds(who)).not.toContain(channelId);
  expect(codes((await ok(server.url, who.token, ChannelJoinDocument, { input: { channelId } })).channelJoin)).toEqual(['NOT_FOUND']);
  expect(codes(await send(who, channelId, 'Let me help'))).toEqual(['NOT_FOUND']);
  const profile = await ok(server.url, who.token, PatientProfileDocument, { id: patientId });
  expect(profile.patient!.channels.edges.map((edge) => edge.node.id)).not.toContain(channelId);
}

describe('who answers a patient-started conversation', () => {
  it('where all respond, the new-patient-message role group (told of it) opens, finds and answers it; the first to answer becomes a member and it leaves the incoming list', async () => {
    const { roleGroupMember, patient } = await clinic({ allStaffRespond: true });
    const channelId = await patientStarts(patient);

    const opened = (await open(roleGroupMember, channelId)).channel!;
    expect(opened.myMembership).toBeNull();
    expect(opened.messages.edges.map((edge) => edge.node.body)).toEqual(['Tuesday does not work for me any more.']);
    const incoming = (await ok(server.url, roleGroupMember.token, IncomingConversationsDocument, { first: 10 })).incomingConversations.edges;
    expect(incoming.map((edge) => edge.node)).toEqual([
      expect.objectContaining({ channel: expect.objectContaining({ id: channelId, title: 'Can I change my appointment?' }), patient: { id: patient.id, name: 'Paula Patient' }, waitingMinutes: 0 }),
    ]);
    const profile = await ok(server.url, roleGroupMember.token, PatientProfileDocument, { id: patient.id });
    expect(profile.patient!.channels.edges.map((edge) => edge.node.id)).toContain(channelId);

    const answered = await send(roleGroupMember, channelId, 'Of course: would Thursday suit?');
    expect(answered.userErrors).toEqual([]);
    expect((await open(roleGroupMember, channelId)).channel!.myMembership).not.toBeNull();
    expect(await incomingIds(roleGroupMember)).not.toContain(channelId);
  });

  it('denied: where responders are selected, any other team member gets what a random id gets; a conversation a team member started stays its members\' only', async () => {
    const { org, admin, outsider, patient } = await clinic({ allStaffRespond: true });
    const responder = await org.addStaff('Sel Responder');
    await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { allStaffRespond: false, responderTeamMemberIds: [responder.id] } });
    const channelId = await patientStarts(patient);
    await expectShutOut(outsider, channelId, patient.id);

    await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { allStaffRespond: true } });
    const starter = await org.addStaff('Stan Starter');
    const staffStarted = await ok(server.url, starter.token, ConversationStartDocument, { input: { patientId: patient.id, title: 'Your results', body: 'All normal.' } });
    await expectShutOut(outsider, staffStarted.conversationStart.channel!.id, patient.id);
  });

  it('with "accessible for all healthcare professionals" any team member answers', async () => {
    const { outsider, patient } = await clinic({ allStaffRespond: true });
    const channelId = await patientStarts(patient);
    expect((await open(outsider, channelId)).channel!.messages.edges).toHaveLength(1);
    expect(await incomingIds(outsider)).toContain(channelId);
    expect((await send(outsider, channelId, 'I can help with that.')).userErrors).toEqual([]);
  });

  it('with selected responders only they and messaging admins answer; the role group is then shut out', async () => {
    const { org, admin, roleGroupMember, patient } = await clinic({ allStaffRespond: true });
    const responder = await org.addStaff('Sel Responder');
    await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { allStaffRespond: false, responderTeamMemberIds: [responder.id] } });
    const channelId = await patientStarts(patient);

    expect(await incomingIds(responder)).toContain(channelId);
    expect(await incomingIds(admin)).toContain(channelId);
    expect((await ok(server.url, admin.token, ChannelJoinDocument, { input: { channelId } })).channelJoin.userErrors).toEqual([]);
    await expectShutOut(roleGroupMember, channelId, patient.id);
    expect((await send(responder, channelId, 'Responding.')).userErrors).toEqual([]);
  });

  it('leaving the responders takes the access away at once (a responder added as a member when it started stays one)', async () => {
    const { org, admin, patient } = await clinic({ allStaffRespond: true });
    const first = await org.addStaff('First Responder');
    const later = await org.addStaff('Later Responder');
    await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { allStaffRespond: false, responderTeamMemberIds: [first.id] } });
    const channelId = await patientStarts(patient);
    expect((await open(first, channelId)).channel!.myMembership).not.toBeNull();
    await expectShutOut(later, channelId, patient.id);

    await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { responderTeamMemberIds: [later.id] } });
    expect((await open(later, channelId)).channel!.messages.edges).toHaveLength(1);
    expect(await incomingIds(later)).toContain(channelId);

    await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { responderTeamMemberIds: [first.id] } });
    await expectShutOut(later, channelId, patient.id);
    expect((await open(first, channelId)).channel!.myMembership).not.toBeNull();
  });

  it('denied: opening to answer is not taking part: no reactions, no internal notes, no join from a refused send, nothing once it is closed', async () => {
    const { org, admin, outsider, patient } = await clinic({ allStaffRespond: true });
    const channelId = await patientStarts(patient);
    const patientMessageId = (await open(outsider, channelId)).channel!.messages.edges[0].node.id;

    expect(codes((await ok(server.url, outsider.token, ReactionAddDocument, { input: { messageId: patientMessageId, emoji: '👍' } })).reactionAdd)).toEqual(['NOT_FOUND']);
    expect(codes(await send(outsider, channelId, 'A note for colleagues', { internal: true }))).toEqual(['FORBIDDEN']);
    expect(codes(await send(outsider, channelId, 'In a thread', { parentMessageId: '00000000-0000-4000-8000-000000000000' }))).toEqual(['NOT_FOUND']);
    // Refused sends joined nobody and left no trace.
    const seen = (await open(outsider, channelId)).channel!;
    expect(seen.myMembership).toBeNull();
    expect(seen.messages.edges).toHaveLength(1);

    const closer = await org.addStaff('Clara Closer');
    await ok(server.url, admin.token, ChannelJoinDocument, { input: { channelId } });
    await ok(server.url, closer.token, ChannelJoinDocument, { input: { channelId } });
    expect((await ok(server.url, closer.token, ConversationCloseDocument, { input: { channelId } })).conversationClose.userErrors).toEqual([]);
    await expectShutOut(outsider, channelId, patient.id);
    expect(await incomingIds(admin)).not.toContain(channelId);
  });

  it('over the WebSocket: a responder follows the conversation once their answer made them a member, not before (NOT_FOUND)', async () => {
    const { outsider, patient } = await clinic({ allStaffRespond: true });
    const channelId = await patientStarts(patient);
    const before = subscribe(server.wsUrl, outsider.token, ChannelEventsDocument, { channelId });
    await before.ended;
    const refusal = await before.next(0);
    expect(refusal.data ?? null).toBeNull();
    expect(refusal.errors?.map((error) => error.extensions?.code)).toEqual(['NOT_FOUND']);

    const answer = await send(outsider, channelId, 'Happy to help.');
    expect(answer.userErrors).toEqual([]);
    const after = subscribe(server.wsUrl, outsider.token, ChannelEventsDocument, { channelId, after: answer.message!.cursor });
    await send(patient, channelId, 'Thank you!');
    expect((await after.next()).data!.channelEvents.message!.body).toBe('Thank you!');
    await after.close();
  });

  it('denied: patients cannot list the incoming conversations', async () => {
    const { patient } = await clinic({});
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${patient.token}` },
      body: JSON.stringify({ query: '{ incomingConversations(first: 5) { edges { node { waitingMinutes } } } }' }),
    });
    const body = (await response.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
    expect(body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
