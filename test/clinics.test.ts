import type { ClinicRelay } from '../src/modules/clinics/clinic-relay';
import { startTestServer, type TestServer } from './support/server';
import { createOwnDatabase, type OwnDatabase } from './support/database';
import { SmtpSink } from './support/notification-sinks';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { errorCodes, eventually, ok, request } from './support/client';
import { codes } from './support/actions';
import {
  ChannelJoinDocument,
  ChannelMembersAddDocument,
  ClinicChannelDocument,
  ClinicConversationStartDocument,
  ClinicDirectoryDocument,
  ClinicIncomingDocument,
  ClinicSettingsUpdateDocument,
  ConversationCloseDocument,
  MessageDeleteDocument,
  MessageEditDocument,
  MessageSendDocument,
  SendWithAttachmentsDocument,
  type ClinicChannelQuery,
} from './generated/graphql';

/**
 * Conversations between two clinics on one server: each keeps its own copy, what crosses is an
 * envelope relayed from the sender's outbox and applied by the receiver once.
 */
let server: TestServer;
/** A database of this file's own: no other file's relay delivers (or misses) these envelopes. */
let database: OwnDatabase;

interface ClinicWorld {
  org: TestOrganisation;
  admin: Person;
  clinician: Person;
  name: string;
}

async function clinic(label: string, accepts: boolean): Promise<ClinicWorld> {
  const org = await createOrganisation(server);
  const admin = await org.addStaff(`${label} Admin`, ['MESSAGING_ADMIN', 'MESSAGING_MANAGEMENT']);
  const clinician = await org.addStaff(`Dr ${label}`);
  if (accepts) {
    const updated = await ok(server.url, admin.token, ClinicSettingsUpdateDocument, { input: { clinicsCanStartConversations: true } });
    expect(updated.messagingSettingsUpdate.userErrors).toEqual([]);
  }
  return { org, admin, clinician, name: `Test ${org.slug}` };
}

beforeAll(async () => {
  database = await createOwnDatabase('clinics');
  server = await startTestServer({ CLINIC_RELAY_POLL_MS: '100' }, undefined, { databaseUrl: database.url });
});
afterAll(async () => {
  await server.close();
  await database.drop();
});

const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []) => server.orm.em.fork().execute<T[]>(query, params);
type Messages = NonNullable<ClinicChannelQuery['channel']>['messages']['edges'];
const messagesOf = async (who: Person, channelId: string): Promise<Messages> => (await ok(server.url, who.token, ClinicChannelDocument, { id: channelId })).channel?.messages.edges ?? [];

/** The receiving clinic's copy of a conversation, once it arrived. */
async function arrived(at: ClinicWorld, title: string): Promise<string> {
  let id: string | undefined;
  await eventually(async () => {
    const incoming = await ok(server.url, at.clinician.token, ClinicIncomingDocument, {});
    id = incoming.incomingConversations.edges.find((edge) => edge.node.channel.title === title)?.node.channel.id;
    return id !== undefined;
  });
  return id!;
}

async function start(from: ClinicWorld, to: ClinicWorld, title: string, extra: Record<string, unknown> = {}) {
  const started = await ok(server.url, from.clinician.token, ClinicConversationStartDocument, { input: { clinicSlug: to.org.slug, title, body: 'Could you see our patient next week?', ...extra } });
  expect(started.clinicConversationStart.userErrors).toEqual([]);
  return started.clinicConversationStart;
}

it('the directory lists the other clinics that accept conversations (name and slug only), never the caller’s own; patients do not see it', async () => {
  const [a, b, c] = await Promise.all([clinic('Alpha', true), clinic('Bravo', true), clinic('Charlie', false)]);
  const list = async (who: Person, search?: string) => (await ok(server.url, who.token, ClinicDirectoryDocument, { search, first: 100 })).clinicDirectory.edges.map((edge) => edge.node);
  const seenByA = await list(a.clinician);
  expect(seenByA).toContainEqual({ slug: b.org.slug, name: b.name });
  expect(seenByA.map((clinic) => clinic.slug)).not.toContain(a.org.slug);
  expect(seenByA.map((clinic) => clinic.slug)).not.toContain(c.org.slug);
  expect(await list(c.clinician, b.org.slug)).toEqual([{ slug: b.org.slug, name: b.name }]);
  expect(await list(c.clinician, 'no clinic is called this')).toEqual([]);
  const patient = await a.org.addPatient('Pat Alpha');
  expect(errorCodes(await request(server.url, patient.token, ClinicDirectoryDocument, {}))).toEqual(['FORBIDDEN']);
});

it('a team member starts a conversation with another clinic about a patient; its responders get it as incoming, answer it, and replies flow both ways as "<name>, <clinic>"', async () => {
  const [a, b] = await Promise.all([clinic('Harbour', false), clinic('Summit', true)]);
  const patient = await a.org.addPatient('Ruth Referral');
  const started = await start(a, b, 'Referral for Ruth', { patientId: patient.id });
  expect(started.channel).toMatchObject({ kind: 'CLINIC', status: 'ACTIVE', otherClinic: { slug: b.org.slug, name: b.name }, patient: { id: patient.id } });

  const incomingId = await arrived(b, 'Referral for Ruth');
  const copy = (await ok(server.url, b.clinician.token, ClinicChannelDocument, { id: incomingId })).channel!;
  expect(copy).toMatchObject({ kind: 'CLINIC', otherClinic: { slug: a.org.slug, name: a.name }, aboutPatientName: 'Ruth Referral', startedByOtherClinic: true, myMembership: null });
  expect(copy.messages.edges.map((edge) => edge.node)).toEqual([
    expect.objectContaining({ body: 'Could you see our patient next week?', author: { __typename: 'OtherClinicAuthor', name: 'Dr Harbour', clinicName: a.name, displayName: `Dr Harbour, ${a.name}` } }),
  ]);

  // Answering joins the responder; the answer crosses back.
  const answer = await ok(server.url, b.clinician.token, MessageSendDocument, { input: { channelId: incomingId, body: 'Yes, Tuesday at 10.' } });
  expect(answer.messageSend.userErrors).toEqual([]);
  await eventually(async () => (await messagesOf(a.clinician, started.channel!.id)).some((edge) => edge.node.body === 'Yes, Tuesday at 10.'));
  const atA = await messagesOf(a.clinician, started.channel!.id);
  expect(atA.map((edge) => edge.node.author)).toEqual([
    { __typename: 'TeamMember', id: a.clinician.id, name: 'Dr Harbour' },
    { __typename: 'OtherClinicAuthor', name: 'Dr Summit', clinicName: b.name, displayName: `Dr Summit, ${b.name}` },
  ]);
  // ...and A's next message reaches B in order.
  await ok(server.url, a.clinician.token, MessageSendDocument, { input: { channelId: started.channel!.id, body: 'Thank you.' } });
  await eventually(async () => (await messagesOf(b.clinician, incomingId)).length === 3);
  expect((await messagesOf(b.clinician, incomingId)).map((edge) => edge.node.body)).toEqual(['Could you see our patient next week?', 'Yes, Tuesday at 10.', 'Thank you.']);
  // Answered: no longer incoming.
  expect((await ok(server.url, b.admin.token, ClinicIncomingDocument, {})).incomingConversations.edges.map((edge) => edge.node.channel.id)).not.toContain(incomingId);

  // Either side closes its own copy; the other is told and keeps its copy open.
  const closed = await ok(server.url, b.clinician.token, ConversationCloseDocument, { input: { channelId: incomingId } });
  expect(closed.conversationClose.userErrors).toEqual([]);
  await eventually(async () => (await messagesOf(a.clinician, started.channel!.id)).some((edge) => edge.node.system && edge.node.body.includes('closed this conversation')));
  expect((await ok(server.url, a.clinician.token, ClinicChannelDocument, { id: started.channel!.id })).channel!.status).toBe('ACTIVE');

  // Both sides audited every step: A its mutations, B each envelope as the sending clinic's.
  await server.deps.auditLog.flush();
  const atB = await sql<{ action: string; actor_kind: string; actor_id: string }>(
    "select action, actor_kind, actor_id from audit_event where organisation_id = ? and actor_kind = 'clinic' order by occurred_at",
    [b.org.id],
  );
  expect(atB.map((row) => [row.action, row.actor_id])).toEqual([
    ['Clinic.CONVERSATION_STARTED', a.org.slug],
    ['Clinic.MESSAGE', a.org.slug],
  ]);
  const atAudit = await sql<{ action: string }>("select action from audit_event where organisation_id = ? and action like 'Clinic.%' order by occurred_at", [a.org.id]);
  expect(atAudit.map((row) => row.action)).toEqual(['Clinic.MESSAGE', 'Clinic.CONVERSATION_CLOSED']);
});

it('isolation: neither clinic reads the other’s rows, ids or members; nothing of A is stored at B but names and text', async () => {
  const [a, b] = await Promise.all([clinic('Isla', false), clinic('Bay', true)]);
  const patient = await a.org.addPatient('Iris Isolated');
  const colleague = await a.org.addStaff('Colin Colleague');
  const started = await start(a, b, 'About Iris', { patientId: patient.id, recipientTeamMemberIds: [colleague.id] });
  const incomingId = await arrived(b, 'About Iris');
  const aIds = [a.org.id, started.channel!.id, started.message!.id, patient.id, a.clinician.id, colleague.id, a.admin.id];
  // By id, from B: nothing.
  for (const id of aIds) expect((await ok(server.url, b.admin.token, ClinicChannelDocument, { id })).channel).toBeNull();
  // B's rows hold none of A's ids.
  const stored = await sql<{ row: string }>(
    `select row_to_json(x)::text as row from (
       select c.* from channel c where c.organisation_id = ?) x
     union all select row_to_json(m)::text from message m where m.organisation_id = ?
     union all select row_to_json(cm)::text from channel_member cm where cm.organisation_id = ?
     union all select row_to_json(e)::text from channel_event e where e.organisation_id = ?`,
    [b.org.id, b.org.id, b.org.id, b.org.id],
  );
  const text = stored.map((row) => row.row).join('\n');
  for (const id of aIds) expect(text).not.toContain(id);
  // A cannot write in B's copy, nor B in A's.
  expect(codes((await ok(server.url, a.clinician.token, MessageSendDocument, { input: { channelId: incomingId, body: 'x' } })).messageSend)).toEqual(['NOT_FOUND']);
  expect(codes((await ok(server.url, b.admin.token, MessageSendDocument, { input: { channelId: started.channel!.id, body: 'x' } })).messageSend)).toEqual(['NOT_FOUND']);
  // A patient of A learns nothing of B: the conversation is not theirs to see.
  expect((await ok(server.url, patient.token, ClinicChannelDocument, { id: started.channel!.id })).channel).toBeNull();
});

it('denied: a clinic that does not accept conversations, the caller’s own, an unknown slug; patients do not start them; messages to another clinic are text only', async () => {
  const [a, b, closedShop] = await Promise.all([clinic('Delta', true), clinic('Echo', true), clinic('Foxtrot', false)]);
  for (const clinicSlug of [closedShop.org.slug, a.org.slug, 'no-such-clinic']) {
    const refused = await ok(server.url, a.clinician.token, ClinicConversationStartDocument, { input: { clinicSlug, title: 'Hi', body: 'Hello' } });
    expect(codes(refused.clinicConversationStart)).toEqual(['NOT_FOUND']);
  }
  const patient = await a.org.addPatient('Pat Delta');
  expect(errorCodes(await request(server.url, patient.token, ClinicConversationStartDocument, { input: { clinicSlug: b.org.slug, title: 'Hi', body: 'Hello' } }))).toEqual(['FORBIDDEN']);
  const started = await start(a, b, 'Text only');
  const withFile = await ok(server.url, a.clinician.token, SendWithAttachmentsDocument, { input: { channelId: started.channel!.id, body: 'see file', attachmentIds: ['00000000-0000-4000-8000-000000000001'] } });
  expect(codes(withFile.messageSend)).toEqual(['INVALID_INPUT']);
  // Nobody is added to a clinic conversation from the patient side.
  const added = await ok(server.url, a.clinician.token, ChannelMembersAddDocument, { input: { channelId: started.channel!.id, patientIds: [patient.id] } });
  expect(added.channelMembersAdd.userErrors.length).toBeGreaterThan(0);
});

it('exactly once: an envelope delivered again (a relay that died before it recorded the delivery) changes nothing at the receiver', async () => {
  const [a, b] = await Promise.all([clinic('Golf', false), clinic('Hotel', true)]);
  const started = await start(a, b, 'Once only');
  const incomingId = await arrived(b, 'Once only');
  await ok(server.url, a.clinician.token, MessageSendDocument, { input: { channelId: started.channel!.id, body: 'Second message' } });
  await eventually(async () => (await messagesOf(b.clinician, incomingId)).length === 2);
  // Every envelope of A is delivered again.
  await sql('update clinic_outbox set delivered_at = null, next_attempt_at = now() where organisation_id = ?', [a.org.id]);
  await eventually(async () => (await sql<{ n: string }>('select count(*) as n from clinic_outbox where organisation_id = ? and delivered_at is null', [a.org.id]))[0].n === '0');
  const [{ channels }] = await sql<{ channels: string }>("select count(*) as channels from channel where organisation_id = ? and kind = 'CLINIC'", [b.org.id]);
  expect(Number(channels)).toBe(1);
  expect((await messagesOf(b.clinician, incomingId)).map((edge) => edge.node.body)).toEqual(['Could you see our patient next week?', 'Second message']);
});

it('an envelope the receiver refuses (it stopped accepting conversations) is kept as refused, not retried, and nothing is created there', async () => {
  const [a, b] = await Promise.all([clinic('India', false), clinic('Juliet', true)]);
  // B stops accepting after A looked it up: the start is refused at delivery.
  const relay = server.deps.clinicRelay as ClinicRelay;
  await relay.stop();
  try {
    await start(a, b, 'Too late');
    await ok(server.url, b.admin.token, ClinicSettingsUpdateDocument, { input: { clinicsCanStartConversations: false } });
  } finally {
    relay.start();
  }
  await eventually(async () => (await sql<{ refused_at: Date | null }>('select refused_at from clinic_outbox where organisation_id = ?', [a.org.id]))[0]?.refused_at != null);
  const [{ channels }] = await sql<{ channels: string }>("select count(*) as channels from channel where organisation_id = ? and kind = 'CLINIC'", [b.org.id]);
  expect(Number(channels)).toBe(0);
  await server.deps.auditLog.flush();
  const refused = await sql<{ outcome: string }>("select outcome from audit_event where organisation_id = ? and action = 'Clinic.CONVERSATION_STARTED'", [b.org.id]);
  expect(refused.map((row) => row.outcome)).toEqual(['REJECTED']);
});

it('in order: an envelope waiting for its retry holds back the later ones to the same clinic (a message never arrives before its conversation)', async () => {
  const [a, b] = await Promise.all([clinic('Kilo', false), clinic('Lima', true)]);
  const relay = server.deps.clinicRelay as ClinicRelay;
  await relay.stop();
  try {
    const started = await start(a, b, 'In order');
    await ok(server.url, a.clinician.token, MessageSendDocument, { input: { channelId: started.channel!.id, body: 'After the start' } });
    // The start failed once and waits a while for its retry.
    await sql("update clinic_outbox set attempts = 1, next_attempt_at = now() + interval '1 hour' where organisation_id = ? and kind = 'CONVERSATION_STARTED'", [a.org.id]);
  } finally {
    relay.start();
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const waiting = await sql<{ kind: string; delivered_at: Date | null; refused_at: Date | null }>('select kind, delivered_at, refused_at from clinic_outbox where organisation_id = ? order by created_at', [a.org.id]);
  expect(waiting).toEqual([
    { kind: 'CONVERSATION_STARTED', delivered_at: null, refused_at: null },
    { kind: 'MESSAGE', delivered_at: null, refused_at: null },
  ]);
  await sql('update clinic_outbox set next_attempt_at = now() where organisation_id = ?', [a.org.id]);
  const incomingId = await arrived(b, 'In order');
  await eventually(async () => (await messagesOf(b.clinician, incomingId)).length === 2);
  expect((await messagesOf(b.clinician, incomingId)).map((edge) => edge.node.body)).toEqual(['Could you see our patient next week?', 'After the start']);
});

it('denied: what crossed is not changed afterwards: neither the other clinic’s messages nor one’s own sent to it', async () => {
  const [a, b] = await Promise.all([clinic('Mike', false), clinic('November', true)]);
  const started = await start(a, b, 'Fixed once sent');
  const incomingId = await arrived(b, 'Fixed once sent');
  const [theirs] = await messagesOf(b.clinician, incomingId);
  // Even a member with the Messaging Management permission (which changes others' messages).
  const joined = await ok(server.url, b.admin.token, ChannelJoinDocument, { input: { channelId: incomingId } });
  expect(joined.channelJoin.userErrors).toEqual([]);
  const edited = (await ok(server.url, b.admin.token, MessageEditDocument, { input: { messageId: theirs.node.id, body: 'Changed' } })).messageEdit;
  expect(edited.userErrors).toEqual([expect.objectContaining({ code: 'FORBIDDEN', message: 'A message from another clinic cannot be changed here.' })]);
  const [mine] = await messagesOf(a.clinician, started.channel!.id);
  expect(codes((await ok(server.url, a.clinician.token, MessageEditDocument, { input: { messageId: mine.node.id, body: 'Changed' } })).messageEdit)).toEqual(['UNSUPPORTED_CHANNEL_KIND']);
  expect(codes((await ok(server.url, a.clinician.token, MessageDeleteDocument, { input: { messageId: mine.node.id } })).messageDelete)).toEqual(['UNSUPPORTED_CHANNEL_KIND']);
  expect((await messagesOf(b.clinician, incomingId)).map((edge) => edge.node.body)).toEqual(['Could you see our patient next week?']);
});

describe('notices of conversations from other clinics', () => {
  const smtp = new SmtpSink();
  let noticing: TestServer;

  beforeAll(async () => {
    await smtp.start();
    noticing = await startTestServer(
      { CLINIC_RELAY_POLL_MS: '100', NOTIFICATION_WORKER: 'true', NOTIFICATION_POLL_MS: '50', SMTP_URL: smtp.url, STAFF_PORTAL_URL: 'https://clinic.example/portal' },
      undefined,
      { databaseUrl: database.url },
    );
  });
  afterAll(async () => {
    await noticing.close();
    await smtp.stop();
  });

  it("reach the receiving clinic's role group (all respond) or its selected responders, and carry no health information", async () => {
    const make = async (label: string) => {
      const org = await createOrganisation(noticing);
      const admin = await org.addStaff(`${label} Admin`, ['MESSAGING_ADMIN']);
      return { org, admin };
    };
    const [a, everyone, selected] = await Promise.all([make('Sender'), make('Everyone'), make('Selected')]);
    const reception = await everyone.org.addStaff('Reception Desk', [], ['Appointment Reminder Admin']);
    const responder = await selected.org.addStaff('Rita Responder');
    const quiet = { staffNotificationDelayMinutes: 0, clinicsCanStartConversations: true };
    expect((await ok(noticing.url, everyone.admin.token, ClinicSettingsUpdateDocument, { input: quiet })).messagingSettingsUpdate.userErrors).toEqual([]);
    expect((await ok(noticing.url, selected.admin.token, ClinicSettingsUpdateDocument, { input: { ...quiet, allStaffRespond: false, responderTeamMemberIds: [responder.id] } })).messagingSettingsUpdate.userErrors).toEqual([]);
    const sender = await a.org.addStaff('Dr Sender');
    const patient = await a.org.addPatient('Ruth Secretname');
    const secret = { title: 'Oncology referral', body: 'Biopsy shows stage 3 carcinoma.' };
    for (const to of [everyone, selected]) {
      const started = await ok(noticing.url, sender.token, ClinicConversationStartDocument, { input: { clinicSlug: to.org.slug, patientId: patient.id, ...secret } });
      expect(started.clinicConversationStart.userErrors).toEqual([]);
    }
    const inbox = (person: Person) => smtp.to(`${person.externalId}@clinic.example`);
    await eventually(() => inbox(reception).length > 0 && inbox(responder).length > 0, 15_000);
    expect(inbox(reception)[0].subject).toMatch(/Another clinic is waiting for a reply/);
    // The selected responder is a member of the conversation: told as of any unread message.
    expect(inbox(responder)[0].subject).toMatch(/Unread messages/);
    for (const mail of [...inbox(reception), ...inbox(responder)]) {
      for (const word of ['Oncology', 'carcinoma', 'Secretname', 'Ruth', 'Dr Sender', a.org.slug]) expect(mail.raw).not.toContain(word);
    }
  });
});
