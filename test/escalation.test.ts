import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person } from './support/fixtures';
import { eventually, ok, request, subscribe } from './support/client';
import { actions, codes } from './support/actions';
import {
  AccessLogDocument,
  ChannelEventsDocument,
  MessageDeleteDocument,
  ConversationCloseDocument,
  ConversationStartDocument,
  InboxEventsDocument,
  MessagingSettingsUpdateDocument,
  ResponsesDueDocument,
  ResponseTargetsUpdateDocument,
  UrgencySendDocument,
  WebhookDeliveriesDocument,
  WebhookEndpointCreateDocument,
  type MessagingSettingsUpdateInput,
} from './generated/graphql';

/**
 * Response targets and escalation, against a server whose escalator reads a clock the test moves
 * on (messages are written at the real time; the escalator is asked what is due "later").
 */
const MINUTE = 60_000;
let offset = 0;
const later = (minutes: number) => {
  offset += minutes * MINUTE;
};
let server: TestServer;
const received: Array<{ type: string; data: Record<string, unknown> }> = [];
let receiver: http.Server;
let receiverUrl: string;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  server = await startTestServer(
    { ESCALATION_POLL_MS: '50', WEBHOOK_POLL_MS: '100', WEBHOOK_ALLOWED_NETWORKS: '127.0.0.1/32' },
    undefined,
    { clock: () => new Date(Date.now() + offset) },
  );
});
afterAll(async () => {
  await server.close();
  await new Promise((resolve) => receiver.close(resolve));
});
// Each test starts at the real time.
beforeEach(() => {
  offset = 0;
});
const { activate, post } = actions(() => server);

/** Rows of the server's database (what the notification worker would send). */
const rows = <T>(sql: string, params: unknown[]) => server.deps.orm.em.fork().execute<T[]>(sql, params);
const escalationNotices = (organisationId: string) =>
  rows<{ team_member_id: string; transport: string }>(`select team_member_id, transport from notification where organisation_id = ? and kind = 'ESCALATION' order by team_member_id, transport`, [organisationId]);
const escalatedEvents = (organisationId: string, channelId: string) =>
  rows<{ message_id: string; staff_only: boolean }>(`select message_id, staff_only from channel_event where organisation_id = ? and channel_id = ? and type = 'ESCALATED' order by seq`, [organisationId, channelId]);

async function targets(admin: Person, input: MessagingSettingsUpdateInput) {
  const { messagingSettingsUpdate } = await ok(server.url, admin.token, ResponseTargetsUpdateDocument, { input });
  expect(messagingSettingsUpdate.userErrors).toEqual([]);
  return messagingSettingsUpdate.settings!;
}

async function organisationWithTargets(input: MessagingSettingsUpdateInput = {}) {
  const org = await createOrganisation(server);
  const admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN'], ['Practice Manager']);
  const clinician = await org.addStaff('Cleo Clinician');
  const triage = await org.addStaff('Tess Triage', [], ['Triage']);
  const patient = await org.addPatient('Pia Patient');
  await targets(admin, { routineResponseMinutes: 60, urgentResponseMinutes: 15, responseTimeBasis: 'WALL_CLOCK', newPatientMessageRoleGroup: 'Triage', ...input });
  const channel = await activate(clinician, patient);
  return { org, admin, clinician, triage, patient, channel };
}

const dueFor = async (who: Person, scope: 'MINE' | 'ORGANISATION' = 'MINE', dueWithinMinutes?: number) =>
  (await ok(server.url, who.token, ResponsesDueDocument, { scope, dueWithinMinutes })).responsesDue.edges.map((edge) => edge.node);

/** Waits for the escalator (polling every 50 ms) to have written what `check` expects. */
const settled = (check: () => Promise<boolean>) => eventually(check, 5_000);

describe('response targets and escalation', () => {
  it("a patient's unanswered message is due by the target, escalates once to the channel's team members, then once to the role group; staff see it live, the patient never", async () => {
    const { org, clinician, triage, patient, channel } = await organisationWithTargets({ secondEscalationMinutes: 30 });
    const anchor = (await ok(server.url, clinician.token, UrgencySendDocument, { input: { channelId: channel.id, body: 'Hello, how can we help?' } })).messageSend.message!;
    const staffStream = subscribe(server.wsUrl, clinician.token, ChannelEventsDocument, { channelId: channel.id, after: anchor.cursor });
    const patientStream = subscribe(server.wsUrl, patient.token, ChannelEventsDocument, { channelId: channel.id, after: anchor.cursor });
    // The inbox starts live: it is open once it has seen a message.
    const staffInbox = subscribe(server.wsUrl, clinician.token, InboxEventsDocument, {});
    for (let opened = false; !opened; ) {
      await post(clinician, channel.id, 'Still here');
      opened = await staffInbox.next(300).then(() => true, () => false);
      for (const stream of [staffStream, patientStream]) await stream.next();
    }
    await staffInbox.expectSilence(300);

    const sentAt = Date.now();
    const question = await post(patient, channel.id, 'My dressing is wet, should I change it?');
    for (const stream of [staffStream, staffInbox, patientStream]) expect((await stream.next()).data).toBeTruthy();
    const [waiting] = await dueFor(clinician);
    expect(waiting).toMatchObject({ urgency: 'ROUTINE', overdue: false, escalationLevel: 0, channel: { id: channel.id }, patient: { id: patient.id }, message: { id: question.id } });
    expect(Math.abs(new Date(waiting.dueAt).getTime() - (sentAt + 60 * MINUTE))).toBeLessThan(5_000);

    // Not yet due: nothing happens.
    later(59);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await escalatedEvents(org.id, channel.id)).toEqual([]);

    const activity = () => rows<{ last_activity_at: Date }>('select last_activity_at from channel where organisation_id = ? and id = ?', [org.id, channel.id]);
    const activeBefore = await activity();
    later(2);
    await settled(async () => (await escalatedEvents(org.id, channel.id)).length === 1);
    // An escalation is not activity: the channel keeps its place in everyone's list (the patient's too).
    expect(await activity()).toEqual(activeBefore);
    expect(await escalatedEvents(org.id, channel.id)).toEqual([{ message_id: question.id, staff_only: true }]);
    expect((await staffStream.next()).data?.channelEvents).toMatchObject({ type: 'ESCALATED', message: { id: question.id } });
    expect((await staffInbox.next()).data?.inboxEvents).toMatchObject({ type: 'ESCALATED', channelId: channel.id });
    // First level: the channel's team member (email; no push device), not the role group yet.
    expect(await escalationNotices(org.id)).toEqual([{ team_member_id: clinician.id, transport: 'EMAIL' }]);

    // Passes go on: no second escalation for the same due time.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await escalatedEvents(org.id, channel.id)).toHaveLength(1);

    later(31);
    await settled(async () => (await escalatedEvents(org.id, channel.id)).length === 2);
    expect((await escalationNotices(org.id)).map((notice) => notice.team_member_id).sort()).toEqual([clinician.id, triage.id].sort());
    const [escalated] = await dueFor(triage, 'ORGANISATION');
    expect(escalated).toMatchObject({ escalationLevel: 2, overdue: true });

    // The patient's stream never carried ESCALATED: the next thing it sees is the answer.
    await post(clinician, channel.id, 'Yes, change it now.');
    expect((await patientStream.next()).data?.channelEvents).toMatchObject({ type: 'MESSAGE_SENT' });
    await patientStream.expectSilence(200);
    expect(await dueFor(clinician)).toEqual([]);
    later(600);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await escalatedEvents(org.id, channel.id)).toHaveLength(2);
    await Promise.all([staffStream.close(), staffInbox.close(), patientStream.close()]);
  });

  it('a staff reply before the due time, or closing the conversation, stops it; an internal note does not', async () => {
    const { org, clinician, patient, channel } = await organisationWithTargets();
    await post(patient, channel.id, 'A question');
    await post(clinician, channel.id, 'Looking into it', { internal: true });
    expect(await dueFor(clinician)).toHaveLength(1);
    await post(clinician, channel.id, 'Here is the answer');
    expect(await dueFor(clinician)).toEqual([]);

    const started = (await ok(server.url, patient.token, ConversationStartDocument, { input: { title: 'About my bill', body: 'Can I pay later?' } })).conversationStart;
    // Patients may not start conversations by default: staff start one, the patient answers.
    expect(codes(started)).toEqual(['NOT_ALLOWED_TO_START']);
    const conversation = (await ok(server.url, clinician.token, ConversationStartDocument, { input: { title: 'Your results', body: 'They are in.', patientId: patient.id } })).conversationStart.channel!;
    await post(patient, conversation.id, 'What do they mean?');
    expect((await dueFor(clinician)).map((item) => item.channel?.id)).toEqual([conversation.id]);
    expect(codes((await ok(server.url, clinician.token, ConversationCloseDocument, { input: { channelId: conversation.id } })).conversationClose)).toEqual([]);
    expect(await dueFor(clinician)).toEqual([]);
    later(24 * 60);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await escalatedEvents(org.id, conversation.id)).toEqual([]);
    expect(await escalatedEvents(org.id, channel.id)).toEqual([]);
  });

  it('a conversation a patient started escalates to its responders, and the webhook tells partners (ids only)', async () => {
    const { org, admin, patient } = await organisationWithTargets();
    const responder = await org.addStaff('Rhea Responder');
    await targets(admin, { patientsCanStartConversations: true, allStaffRespond: false, responderTeamMemberIds: [responder.id] });
    const endpoint = (await ok(server.url, admin.token, WebhookEndpointCreateDocument, { input: { url: receiverUrl, eventTypes: ['CONVERSATION_ESCALATED'] } })).webhookEndpointCreate.webhookEndpoint!;
    const urgent = (await ok(server.url, patient.token, ConversationStartDocument, { input: { title: 'Urgent', body: 'Please', urgency: 'URGENT' } })).conversationStart;
    expect(codes(urgent)).toEqual(['URGENCY_NOT_ALLOWED']);
    const started = (await ok(server.url, patient.token, ConversationStartDocument, { input: { title: 'Private question', body: 'Is this normal?' } })).conversationStart;
    expect(started.userErrors).toEqual([]);
    const conversationId = started.channel!.id;
    expect((await dueFor(responder, 'ORGANISATION')).map((item) => item.channel?.id)).toEqual([conversationId]);

    later(61);
    await settled(async () => (await escalatedEvents(org.id, conversationId)).length === 1);
    expect((await escalationNotices(org.id)).filter((notice) => notice.team_member_id === responder.id)).toEqual([{ team_member_id: responder.id, transport: 'EMAIL' }]);
    await settled(async () => received.some((event) => event.type === 'conversation.escalated' && event.data.channelId === conversationId));
    const event = received.find((candidate) => candidate.data.channelId === conversationId)!;
    expect(JSON.stringify(event)).not.toContain('Is this normal?');
    expect(JSON.stringify(event)).not.toContain('Private question');
    const deliveries = (await ok(server.url, admin.token, WebhookDeliveriesDocument, { endpointId: endpoint.id })).webhookDeliveries.edges;
    expect(deliveries.map((edge) => edge.node.eventType)).toEqual(['CONVERSATION_ESCALATED']);
  });

  it('urgency: patients mark URGENT only where the settings allow (URGENCY_NOT_ALLOWED, nothing written); an urgent message is due by the urgent target', async () => {
    const { org, admin, clinician, patient, channel } = await organisationWithTargets();
    const refused = (await ok(server.url, patient.token, UrgencySendDocument, { input: { channelId: channel.id, body: 'Chest pain', urgency: 'URGENT' } })).messageSend;
    expect(codes(refused)).toEqual(['URGENCY_NOT_ALLOWED']);
    expect(await rows(`select 1 from message where organisation_id = ? and body = 'Chest pain'`, [org.id])).toEqual([]);
    expect(await dueFor(clinician)).toEqual([]);

    // Staff may always mark their messages urgent.
    expect((await ok(server.url, clinician.token, UrgencySendDocument, { input: { channelId: channel.id, body: 'Please call us today', urgency: 'URGENT' } })).messageSend.message?.urgency).toBe('URGENT');

    await targets(admin, { patientsCanMarkUrgent: true });
    await post(patient, channel.id, 'Routine first');
    const sentAt = Date.now();
    const urgent = (await ok(server.url, patient.token, UrgencySendDocument, { input: { channelId: channel.id, body: 'Now it hurts', urgency: 'URGENT' } })).messageSend;
    expect(urgent.message?.urgency).toBe('URGENT');
    const [waiting] = await dueFor(clinician);
    // The oldest unanswered message is kept; the due time is the earlier of the two, the urgency the higher.
    expect(waiting).toMatchObject({ urgency: 'URGENT', message: { body: 'Routine first' } });
    expect(Math.abs(new Date(waiting.dueAt).getTime() - (sentAt + 15 * MINUTE))).toBeLessThan(5_000);
    expect(await dueFor(clinician, 'MINE', 0)).toEqual([]);
    expect(await dueFor(clinician, 'MINE', 20)).toHaveLength(1);
  });

  it('responsesDue: MINE lists the channels the caller is in, pages with sealed cursors; denied to patients and services, and to other organisations', async () => {
    const { org, clinician, channel } = await organisationWithTargets();
    const colleague = await org.addStaff('Col League');
    const patients = [await org.addPatient('P One'), await org.addPatient('P Two')];
    const channels = [channel.id];
    for (const other of patients) channels.push((await activate(clinician, other)).id);
    for (const [index, other] of patients.entries()) await post(other, channels[index + 1], `Question ${index}`);
    const page = (await ok(server.url, clinician.token, ResponsesDueDocument, { first: 1 })).responsesDue;
    expect(page.pageInfo.hasNextPage).toBe(true);
    const rest = (await ok(server.url, clinician.token, ResponsesDueDocument, { first: 5, after: page.pageInfo.endCursor })).responsesDue;
    expect([...page.edges, ...rest.edges].map((edge) => edge.node.channel?.id)).toEqual(channels.slice(1));
    expect(await dueFor(colleague, 'MINE')).toEqual([]);
    expect(errorCode(await request(server.url, clinician.token, ResponsesDueDocument, { after: 'forged' }))).toBe('CURSOR_INVALID');
    expect(errorCode(await request(server.url, patients[0].token, ResponsesDueDocument, {}))).toBe('FORBIDDEN');
    expect(errorCode(await request(server.url, org.serviceToken, ResponsesDueDocument, {}))).toBe('FORBIDDEN');
    const elsewhere = await createOrganisation(server);
    const stranger = await elsewhere.addStaff('Stan Stranger', ['MESSAGING_ADMIN']);
    expect(await dueFor(stranger, 'ORGANISATION')).toEqual([]);
    const bad = await request(server.url, clinician.token, ResponsesDueDocument, { dueWithinMinutes: -1 });
    expect(errorCode(bad)).toBe('BAD_USER_INPUT');
  });

  it('the waiting message is shown only to those who may read the conversation, and their read is in the patient\'s access log', async () => {
    const { org, admin, clinician, patient, channel } = await organisationWithTargets();
    const colleague = await org.addStaff('Col League');
    const question = await post(patient, channel.id, 'Is my prescription ready?');
    // A team member outside the care team sees that the patient waits (the channel is visible to staff), not what they wrote.
    const [seenByColleague] = await dueFor(colleague, 'ORGANISATION');
    expect(seenByColleague).toMatchObject({ channel: { id: channel.id }, message: null });
    const [seenByMember] = await dueFor(clinician);
    expect(seenByMember.message).toMatchObject({ id: question.id, body: 'Is my prescription ready?' });
    const log = (await ok(server.url, admin.token, AccessLogDocument, { patientId: patient.id })).accessLog.edges.map((edge) => edge.node);
    expect(log.map((entry) => [entry.accessorName, entry.via])).toEqual([['Cleo Clinician', 'ResponseDue.message']]);
    const own = (await ok(server.url, patient.token, AccessLogDocument, {})).accessLog.edges.map((edge) => edge.node);
    expect(own).toMatchObject([{ accessorName: 'Cleo Clinician', via: null, channel: { id: channel.id } }]);
  });

  it('a wait an answer could not see (it committed while the answer was written) starts again from the next patient message', async () => {
    const { org, clinician, patient, channel } = await organisationWithTargets();
    const first = await post(patient, channel.id, 'First question');
    await post(clinician, channel.id, 'Answered');
    // What a patient message committed during the answer's statement leaves behind: its wait, already answered.
    const [{ seq }] = await rows<{ seq: string }>('select seq from message where organisation_id = ? and id = ?', [org.id, first.id]);
    await rows(
      `insert into response_due (organisation_id, channel_id, message_id, message_seq, waiting_since, urgency, due_at, level, next_at, escalated_at)
       values (?, ?, ?, ?, now() - interval '1 day', 'ROUTINE', now() - interval '23 hours', 1, null, now() - interval '23 hours')`,
      [org.id, channel.id, first.id, seq],
    );
    expect(await dueFor(clinician)).toEqual([]);
    const sentAt = Date.now();
    const second = await post(patient, channel.id, 'Second question');
    const [waiting] = await dueFor(clinician);
    expect(waiting).toMatchObject({ message: { id: second.id }, escalationLevel: 0, escalatedAt: null, overdue: false });
    expect(Math.abs(new Date(waiting.dueAt).getTime() - (sentAt + 60 * MINUTE))).toBeLessThan(5_000);
    later(61);
    await settled(async () => (await escalatedEvents(org.id, channel.id)).length === 1);
    expect(await escalatedEvents(org.id, channel.id)).toEqual([{ message_id: second.id, staff_only: true }]);
  });

  it('nobody waits once the patient deleted what they wrote, or the organisation no longer sets a target: no escalation', async () => {
    const { org, clinician, patient, channel } = await organisationWithTargets();
    const withdrawn = await post(patient, channel.id, 'Sent by mistake');
    expect(codes((await ok(server.url, patient.token, MessageDeleteDocument, { input: { messageId: withdrawn.id } })).messageDelete)).toEqual([]);
    const other = await organisationWithTargets();
    await post(other.patient, other.channel.id, 'A question');
    await targets(other.admin, { routineResponseMinutes: 0 });
    later(61);
    await settled(async () => (await rows('select 1 from response_due where organisation_id in (?, ?)', [org.id, other.org.id])).length === 0);
    expect(await escalatedEvents(org.id, channel.id)).toEqual([]);
    expect(await escalatedEvents(other.org.id, other.channel.id)).toEqual([]);
    expect(await escalationNotices(org.id)).toEqual([]);
    // Allowed counterpart: a patient message that stays is escalated.
    await post(patient, channel.id, 'A real question');
    later(61);
    await settled(async () => (await escalatedEvents(org.id, channel.id)).length === 1);
    expect(await escalationNotices(org.id)).toEqual([{ team_member_id: clinician.id, transport: 'EMAIL' }]);
  });

  it("a conversation a team member started escalates the second time to the messaging admins (the role group could not open it)", async () => {
    const { org, admin, clinician, triage, patient } = await organisationWithTargets({ secondEscalationMinutes: 30 });
    const conversation = (await ok(server.url, clinician.token, ConversationStartDocument, { input: { title: 'Your results', body: 'They are in.', patientId: patient.id } })).conversationStart.channel!;
    await post(patient, conversation.id, 'What do they mean?');
    later(61);
    await settled(async () => (await escalatedEvents(org.id, conversation.id)).length === 1);
    expect((await escalationNotices(org.id)).map((notice) => notice.team_member_id)).toEqual([clinician.id]);
    later(31);
    await settled(async () => (await escalatedEvents(org.id, conversation.id)).length === 2);
    const told = (await escalationNotices(org.id)).map((notice) => notice.team_member_id);
    expect(told.sort()).toEqual([clinician.id, admin.id].sort());
    expect(told).not.toContain(triage.id);
  });

  it('an urgent message after a first escalation brings the second forward to its own due time', async () => {
    const { org, clinician, triage, patient, channel } = await organisationWithTargets({ secondEscalationMinutes: 240, patientsCanMarkUrgent: true });
    await post(patient, channel.id, 'Routine question');
    later(61);
    await settled(async () => (await escalatedEvents(org.id, channel.id)).length === 1);
    // Back to the real time (messages are written at it): the urgent one is due 15 minutes on, long before the second step's 240.
    later(-61);
    await post(patient, channel.id, 'It got worse', { urgency: 'URGENT' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await escalatedEvents(org.id, channel.id)).toHaveLength(1);
    later(16);
    await settled(async () => (await escalatedEvents(org.id, channel.id)).length === 2);
    expect((await escalationNotices(org.id)).map((notice) => notice.team_member_id).sort()).toEqual([clinician.id, triage.id].sort());
  });

  it('bad response targets are refused and change nothing', async () => {
    const { admin, clinician } = await organisationWithTargets();
    const refused = (await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { routineResponseMinutes: 50_000 } })).messagingSettingsUpdate;
    expect(codes(refused)).toEqual(['INVALID_INPUT']);
    const denied = (await ok(server.url, clinician.token, ResponseTargetsUpdateDocument, { input: { routineResponseMinutes: 5 } })).messagingSettingsUpdate;
    expect(codes(denied)).toEqual(['FORBIDDEN']);
    expect(await targets(admin, { urgentResponseMinutes: 0 })).toMatchObject({ routineResponseMinutes: 60, urgentResponseMinutes: null, responseTimeBasis: 'WALL_CLOCK' });
  });
});

const errorCode = (result: { errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> }) => result.errors?.[0]?.extensions?.code;
