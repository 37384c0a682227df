import os from 'node:os';
import path from 'node:path';
import { access, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import type { ClinicRelay } from '../src/modules/clinics/clinic-relay';
import { startTestServer, type TestServer } from './support/server';
import { createOwnDatabase, type OwnDatabase } from './support/database';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { errorCodes, eventually, ok, request } from './support/client';
import { codes } from './support/actions';
import {
  AttachmentCreateUploadDocument,
  ChannelActivateDocument,
  ChannelMembersAddDocument,
  ClinicSettingsUpdateDocument,
  ConversationHandoverDocument,
  ConversationStartDocument,
  HandedOverConversationDocument,
  HandoverAcceptDocument,
  HandoverDeclineDocument,
  HandoverPatientUpsertDocument,
  HandoversDocument,
  MessageEditDocument,
  MessageSendDocument,
  SendWithAttachmentsDocument,
  WebhookEndpointCreateDocument,
  type HandoverFieldsFragment,
} from './generated/graphql';

/**
 * Handing a patient conversation from clinic A over to clinic B on one database: each side's
 * record and conversation, the envelopes between them, and what each patient sees.
 */
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');
/** Servers that replace one another keep the same file store (as a restarted process would). */
const POLL = { CLINIC_RELAY_POLL_MS: '100', WEBHOOK_POLL_MS: '100', WEBHOOK_TIMEOUT_MS: '200', FILES_DIR: path.join(os.tmpdir(), `care-messaging-handover-files-${randomUUID()}`) };
let server: TestServer;
/** A database of this file's own: no other file's relay delivers (or misses) these envelopes. */
let database: OwnDatabase;
const serve = () => startTestServer(POLL, undefined, { databaseUrl: database.url });

beforeAll(async () => {
  database = await createOwnDatabase('handovers');
  server = await serve();
});
afterAll(async () => {
  await server.close();
  await database.drop();
});

const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []) => server.orm.em.fork().execute<T[]>(query, params);

interface Sender {
  org: TestOrganisation;
  clinician: Person;
  patient: Person;
  conversationId: string;
  /** The staff message with a file, the patient's reply, and an internal note. */
  messageIds: { withFile: string; reply: string; note: string };
}
interface Receiver {
  org: TestOrganisation;
  admin: Person;
  responder: Person;
  name: string;
}

async function sender(sharedIdentifier: string | null, patientName = 'Hannah Handover'): Promise<Sender> {
  const org = await createOrganisation(server);
  const clinician = await org.addStaff('Dr Sender');
  const patient = await org.addPatient(patientName);
  if (sharedIdentifier) {
    const updated = await ok(server.url, org.serviceToken, HandoverPatientUpsertDocument, { input: { externalId: patient.externalId, name: patientName, sharedIdentifier } });
    expect(updated.patientUpsert.userErrors).toEqual([]);
  }
  const started = await ok(server.url, clinician.token, ConversationStartDocument, { input: { patientId: patient.id, title: 'Physiotherapy', body: 'How is the knee?' } });
  const conversationId = started.conversationStart.channel!.id;
  const upload = (await ok(server.url, clinician.token, AttachmentCreateUploadDocument, { input: { fileName: 'exercises.png', contentType: 'image/png', size: PNG.length } })).attachmentCreateUpload;
  expect((await fetch(`${new URL(server.url).origin}${upload.uploadUrl}`, { method: 'PUT', body: PNG })).status).toBe(200);
  const withFile = (await ok(server.url, clinician.token, SendWithAttachmentsDocument, { input: { channelId: conversationId, body: 'Your exercises', attachmentIds: [upload.attachment!.id] } })).messageSend.message!.id;
  const reply = (await ok(server.url, patient.token, MessageSendDocument, { input: { channelId: conversationId, body: 'Better, thanks. I am moving to Bristol.' } })).messageSend.message!.id;
  const note = (await ok(server.url, clinician.token, MessageSendDocument, { input: { channelId: conversationId, body: 'Staff only: consider referral', internal: true } })).messageSend.message!.id;
  return { org, clinician, patient, conversationId, messageIds: { withFile, reply, note } };
}

async function receiver(): Promise<Receiver> {
  const org = await createOrganisation(server);
  const admin = await org.addStaff('Receiving Admin', ['MESSAGING_ADMIN']);
  const responder = await org.addStaff('Dr Receiver');
  expect((await ok(server.url, admin.token, ClinicSettingsUpdateDocument, { input: { clinicsCanStartConversations: true } })).messagingSettingsUpdate.userErrors).toEqual([]);
  return { org, admin, responder, name: `Test ${org.slug}` };
}

const consent = { obtainedAt: '2026-11-30T10:00:00.000Z', method: 'VERBAL' as const };

async function offer(a: Sender, b: Receiver, extra: Record<string, unknown> = {}): Promise<HandoverFieldsFragment> {
  const offered = await ok(server.url, a.clinician.token, ConversationHandoverDocument, {
    input: { channelId: a.conversationId, clinicSlug: b.org.slug, messageIds: [a.messageIds.withFile, a.messageIds.reply], consent, note: 'Moving to your area.', ...extra },
  });
  expect(offered.conversationHandover.userErrors).toEqual([]);
  return offered.conversationHandover.handover!;
}

async function incoming(b: Receiver, status?: 'PENDING' | 'ACCEPTED' | 'DECLINED'): Promise<HandoverFieldsFragment[]> {
  return (await ok(server.url, b.responder.token, HandoversDocument, { direction: 'INCOMING', status })).handovers.edges.map((edge) => edge.node);
}

async function arrivedAt(b: Receiver): Promise<HandoverFieldsFragment> {
  await eventually(async () => (await incoming(b)).length > 0);
  return (await incoming(b))[0];
}

const outgoing = async (a: Sender) => (await ok(server.url, a.clinician.token, HandoversDocument, { direction: 'OUTGOING' })).handovers.edges.map((edge) => edge.node);
const conversationOf = async (who: Person, id: string) => (await ok(server.url, who.token, HandedOverConversationDocument, { id })).channel;

it('accepted with the patient matched by shared identifier: the transcript and its file appear at B, the patient is told at both, and A closes the conversation', async () => {
  const [a, b] = await Promise.all([sender('NHS-111-222'), receiver()]);
  const existing = await b.org.addPatient('Hannah H.');
  expect((await ok(server.url, b.org.serviceToken, HandoverPatientUpsertDocument, { input: { externalId: existing.externalId, name: 'Hannah H.', sharedIdentifier: 'NHS-111-222' } })).patientUpsert.userErrors).toEqual([]);
  const offered = await offer(a, b);
  expect(offered).toMatchObject({ direction: 'OUTGOING', status: 'PENDING', clinic: { slug: b.org.slug }, consent: { attestedBy: 'Dr Sender', method: 'VERBAL' } });
  // Offering again (a retry) finds the same handover.
  expect((await offer(a, b)).id).toBe(offered.id);
  // The patient is not told before B accepts: nothing they see names B.
  expect(JSON.stringify(await conversationOf(a.patient, a.conversationId))).not.toContain(b.name);

  const pending = await arrivedAt(b);
  expect(pending).toMatchObject({ direction: 'INCOMING', status: 'PENDING', title: 'Physiotherapy', patientName: 'Hannah Handover', note: 'Moving to your area.', suggestedPatient: { id: existing.id } });
  expect(pending.transcript).toEqual([
    expect.objectContaining({ authorName: 'Dr Sender', fromPatient: false, body: 'Your exercises', fileNames: ['exercises.png'] }),
    expect.objectContaining({ authorName: 'Hannah Handover', fromPatient: true, body: 'Better, thanks. I am moving to Bristol.', fileNames: [] }),
  ]);
  const accepted = (await ok(server.url, b.responder.token, HandoverAcceptDocument, { input: { handoverId: pending.id } })).handoverAccept;
  expect(accepted.userErrors).toEqual([]);
  expect(accepted.handover).toMatchObject({ status: 'ACCEPTED', patient: { id: existing.id }, channel: { kind: 'CONVERSATION', status: 'ACTIVE' } });
  // Accepting again returns the same; there is one conversation.
  const again = (await ok(server.url, b.admin.token, HandoverAcceptDocument, { input: { handoverId: pending.id } })).handoverAccept.handover!;
  expect(again.channel!.id).toBe(accepted.handover!.channel!.id);

  // B's patient sees the conversation: the transcript as A's, the file, and where it came from.
  const atB = (await conversationOf(existing, accepted.handover!.channel!.id))!;
  const bodies = atB.messages.edges.map((edge) => edge.node);
  expect(bodies.map((message) => message.body)).toEqual(['Your exercises', 'Better, thanks. I am moving to Bristol.', expect.stringContaining(`handed over from ${a.org.slug ? `Test ${a.org.slug}` : ''}`)]);
  expect(bodies[0].author).toEqual({ __typename: 'OtherClinicAuthor', displayName: `Dr Sender, Test ${a.org.slug}` });
  expect(bodies[0].attachments).toEqual([expect.objectContaining({ fileName: 'exercises.png' })]);
  // The patient's own words are theirs at B too, not "<name>, <clinic A>".
  expect(bodies[1].author).toEqual({ __typename: 'Patient', id: existing.id });
  // What came from A is A's: B cannot rewrite it.
  const manager = await b.org.addStaff('Managing Admin', ['MESSAGING_ADMIN', 'MESSAGING_MANAGEMENT']);
  const joined = await ok(server.url, b.responder.token, ChannelMembersAddDocument, { input: { channelId: accepted.handover!.channel!.id, teamMemberIds: [manager.id] } });
  expect(joined.channelMembersAdd.userErrors).toEqual([]);
  const edited = (await ok(server.url, manager.token, MessageEditDocument, { input: { messageId: bodies[0].id, body: 'Rewritten' } })).messageEdit;
  expect(edited.userErrors).toEqual([expect.objectContaining({ code: 'FORBIDDEN', message: 'A message from another clinic cannot be changed here.' })]);
  const file = await fetch(`${new URL(server.url).origin}${bodies[0].attachments[0].url}`);
  expect(Buffer.from(await file.arrayBuffer()).equals(PNG)).toBe(true);
  expect(JSON.stringify(bodies)).not.toContain('consider referral');

  // A hears of it: the handover is accepted, the patient is told where it continues, and it is closed to them.
  await eventually(async () => (await outgoing(a))[0]?.status === 'ACCEPTED');
  const atA = (await conversationOf(a.patient, a.conversationId))!;
  expect(atA.status).toBe('CLOSED');
  expect(atA.messages.edges.map((edge) => edge.node.body)).toContainEqual(`This conversation was handed over to ${b.name}, where it continues.`);
  expect(codes((await ok(server.url, a.patient.token, MessageSendDocument, { input: { channelId: a.conversationId, body: 'Hello?' } })).messageSend)).toEqual(['CHANNEL_CLOSED']);

  // Both sides audited every step.
  await server.deps.auditLog.flush();
  const actions = async (organisationId: string) =>
    (await sql<{ action: string }>("select action from audit_event where organisation_id = ? and (action like 'Clinic.HANDOVER%' or action like 'Mutation.%handover%' or action like 'Mutation.conversationHandover') order by occurred_at", [organisationId])).map(
      (row) => row.action,
    );
  expect(await actions(a.org.id)).toEqual(['Mutation.conversationHandover', 'Mutation.conversationHandover', 'Clinic.HANDOVER_ACCEPTED']);
  expect(await actions(b.org.id)).toEqual(['Clinic.HANDOVER_OFFERED', 'Mutation.handoverAccept', 'Mutation.handoverAccept']);
});

it('accepted with a patient created from what A shared, when no record matches; A\'s webhook hears of the handover', async () => {
  const [a, b] = await Promise.all([sender(null, 'Cora Created'), receiver()]);
  // (Its address is not reachable from here: the delivery is seen in A's log.)
  const hook = await ok(server.url, a.org.serviceToken, WebhookEndpointCreateDocument, { input: { url: 'https://93.184.215.14/hooks', eventTypes: ['CONVERSATION_HANDED_OVER'] } });
  expect(hook.webhookEndpointCreate.userErrors).toEqual([]);
  await offer(a, b, { attachmentIds: [] });
  const pending = await arrivedAt(b);
  expect(pending.suggestedPatient).toBeNull();
  // Neither chosen nor matched: the responder must say which.
  expect(codes((await ok(server.url, b.responder.token, HandoverAcceptDocument, { input: { handoverId: pending.id } })).handoverAccept)).toEqual(['INVALID_INPUT']);
  const accepted = (await ok(server.url, b.responder.token, HandoverAcceptDocument, { input: { handoverId: pending.id, createPatient: true } })).handoverAccept.handover!;
  expect(accepted.patient).toMatchObject({ name: 'Cora Created' });
  expect(accepted.patient!.id).not.toBe(a.patient.id);
  // No files were chosen: none crossed.
  const atB = await conversationOf(b.responder, accepted.channel!.id);
  expect(atB!.messages.edges.flatMap((edge) => edge.node.attachments)).toEqual([]);
  await eventually(async () => (await outgoing(a))[0]?.status === 'ACCEPTED');
  const queued = () => sql<{ event_type: string; data: Record<string, unknown> }>('select event_type, data from webhook_delivery where organisation_id = ?', [a.org.id]);
  await eventually(async () => (await queued()).length > 0);
  expect(await queued()).toEqual([
    { event_type: 'CONVERSATION_HANDED_OVER', data: expect.objectContaining({ channelId: a.conversationId, patientId: a.patient.id, toClinic: { slug: b.org.slug, name: b.name } }) },
  ]);
});

it('a file that went missing on its way is left out, and the team is told which (staff only); the rest of the handover is accepted', async () => {
  const [a, b] = await Promise.all([sender(null, 'Milo Missing'), receiver()]);
  await offer(a, b);
  const pending = await arrivedAt(b);
  await rm(path.join(POLL.FILES_DIR, 'transfer'), { recursive: true, force: true });
  const accepted = (await ok(server.url, b.responder.token, HandoverAcceptDocument, { input: { handoverId: pending.id, createPatient: true } })).handoverAccept;
  expect(accepted.userErrors).toEqual([]);
  const atB = (await conversationOf(b.responder, accepted.handover!.channel!.id))!;
  expect(atB.messages.edges.map((edge) => edge.node.body)).toContain('Your exercises');
  expect(atB.messages.edges.flatMap((edge) => edge.node.attachments)).toEqual([]);
  expect(atB.messages.edges.map((edge) => edge.node)).toContainEqual(
    expect.objectContaining({ internal: true, system: true, body: `A file of the handover did not arrive intact and was left out (exercises.png); ask Test ${a.org.slug} to send it again.` }),
  );
});

it('an offer the other clinic refuses on arrival (it stopped accepting) is declined at A with the reason, its transfer copies go, and it may be offered again', async () => {
  const [a, b] = await Promise.all([sender(null, 'Rita Refused'), receiver()]);
  const relay = server.deps.clinicRelay as ClinicRelay;
  await relay.stop();
  try {
    await offer(a, b);
    expect((await ok(server.url, b.admin.token, ClinicSettingsUpdateDocument, { input: { clinicsCanStartConversations: false } })).messagingSettingsUpdate.userErrors).toEqual([]);
  } finally {
    relay.start();
  }
  await eventually(async () => (await outgoing(a))[0]?.status === 'DECLINED');
  expect((await outgoing(a))[0].declineReason).toBe('Not delivered: this clinic does not accept conversations from other clinics');
  expect(await incoming(b)).toEqual([]);
  const [{ transfers }] = await sql<{ transfers: number }>("select count(*)::int as transfers from handover h, jsonb_array_elements(h.offer->'transcript') t, jsonb_array_elements(t->'files') f where h.organisation_id = ?", [a.org.id]);
  expect(transfers).toBe(1);
  const [{ key }] = await sql<{ key: string }>("select f->>'transferKey' as key from handover h, jsonb_array_elements(h.offer->'transcript') t, jsonb_array_elements(t->'files') f where h.organisation_id = ?", [a.org.id]);
  await expect(access(path.join(POLL.FILES_DIR, key))).rejects.toThrow();
  const forStaff = (await conversationOf(a.clinician, a.conversationId))!;
  expect(forStaff.messages.edges.map((edge) => edge.node)).toContainEqual(expect.objectContaining({ internal: true, body: expect.stringContaining(`did not reach ${b.name}`) }));
  expect(JSON.stringify(await conversationOf(a.patient, a.conversationId))).not.toContain(b.name);
  // Declined: A may offer it again once B accepts again.
  expect((await ok(server.url, b.admin.token, ClinicSettingsUpdateDocument, { input: { clinicsCanStartConversations: true } })).messagingSettingsUpdate.userErrors).toEqual([]);
  expect((await offer(a, b)).status).toBe('PENDING');
  await arrivedAt(b);
});

it('declined: A is told why, its conversation stays open, and the patient never learns of B', async () => {
  const [a, b] = await Promise.all([sender(null), receiver()]);
  await offer(a, b);
  const pending = await arrivedAt(b);
  const declined = (await ok(server.url, b.responder.token, HandoverDeclineDocument, { input: { handoverId: pending.id, reason: 'We have no physiotherapist.' } })).handoverDecline;
  expect(declined.handover).toMatchObject({ status: 'DECLINED', declineReason: 'We have no physiotherapist.' });
  // Decided: it cannot be accepted any more.
  expect(codes((await ok(server.url, b.responder.token, HandoverAcceptDocument, { input: { handoverId: pending.id, createPatient: true } })).handoverAccept)).toEqual(['INVALID_INPUT']);
  await eventually(async () => (await outgoing(a))[0]?.status === 'DECLINED');
  expect((await outgoing(a))[0].declineReason).toBe('We have no physiotherapist.');
  const forPatient = (await conversationOf(a.patient, a.conversationId))!;
  expect(forPatient.status).toBe('ACTIVE');
  expect(JSON.stringify(forPatient)).not.toContain(b.name);
  const forStaff = (await conversationOf(a.clinician, a.conversationId))!;
  expect(forStaff.messages.edges.map((edge) => edge.node)).toContainEqual(expect.objectContaining({ internal: true, body: `${b.name} declined the handover: We have no physiotherapist.` }));
  // A may offer it again (to anyone) once declined.
  const retried = await ok(server.url, a.clinician.token, ConversationHandoverDocument, {
    input: { channelId: a.conversationId, clinicSlug: b.org.slug, messageIds: [a.messageIds.reply], consent },
  });
  expect(retried.conversationHandover.userErrors).toEqual([]);
});

it('interrupted: a server that dies between the two sides (after A offered, after B accepted) leaves exactly one conversation once another server relays', async () => {
  const [a, b] = await Promise.all([sender(null), receiver()]);
  let relay = server.deps.clinicRelay as ClinicRelay;
  await relay.stop();
  await offer(a, b);
  // The process dies with the offer in A's outbox.
  await server.close();
  server = await serve();
  const pending = await arrivedAt(b);
  relay = server.deps.clinicRelay as ClinicRelay;
  await relay.stop();
  // Two responders accept at once: one conversation.
  const [first, second] = await Promise.all([
    ok(server.url, b.responder.token, HandoverAcceptDocument, { input: { handoverId: pending.id, createPatient: true } }),
    ok(server.url, b.admin.token, HandoverAcceptDocument, { input: { handoverId: pending.id, createPatient: true } }),
  ]);
  expect([first.handoverAccept.userErrors, second.handoverAccept.userErrors]).toEqual([[], []]);
  expect(first.handoverAccept.handover!.channel?.id ?? second.handoverAccept.handover!.channel?.id).toBeDefined();
  // The process dies with the acceptance in B's outbox: A has not heard.
  expect((await outgoing(a))[0].status).toBe('PENDING');
  await server.close();
  server = await serve();
  await eventually(async () => (await outgoing(a))[0]?.status === 'ACCEPTED');
  // Every envelope delivered again changes nothing.
  await sql('update clinic_outbox set delivered_at = null where organisation_id in (?, ?)', [a.org.id, b.org.id]);
  await eventually(async () => Number((await sql<{ n: string }>('select count(*) as n from clinic_outbox where organisation_id in (?, ?) and delivered_at is null', [a.org.id, b.org.id]))[0].n) === 0);
  const [{ conversations }] = await sql<{ conversations: string }>("select count(*) as conversations from channel where organisation_id = ? and kind = 'CONVERSATION'", [b.org.id]);
  expect(Number(conversations)).toBe(1);
  const [{ patients }] = await sql<{ patients: string }>('select count(*) as patients from patient where organisation_id = ?', [b.org.id]);
  expect(Number(patients)).toBe(1);
  const told = (await conversationOf(a.patient, a.conversationId))!.messages.edges.filter((edge) => edge.node.body.includes('handed over to'));
  expect(told).toHaveLength(1);
});

it('denied: patients, team members who do not answer patients, other kinds of channel, internal notes; B stores none of A’s ids', async () => {
  const [a, b] = await Promise.all([sender(null), receiver()]);
  // Only named responders answer at B: the admin (MESSAGING_ADMIN) and the responder decide; a colleague may not.
  const colleague = await b.org.addStaff('Cal Colleague');
  expect((await ok(server.url, b.admin.token, ClinicSettingsUpdateDocument, { input: { allStaffRespond: false, responderTeamMemberIds: [b.responder.id] } })).messagingSettingsUpdate.userErrors).toEqual([]);
  const withNote = await ok(server.url, a.clinician.token, ConversationHandoverDocument, {
    input: { channelId: a.conversationId, clinicSlug: b.org.slug, messageIds: [a.messageIds.note], consent },
  });
  expect(codes(withNote.conversationHandover)).toEqual(['INVALID_INPUT']);
  const care = (await ok(server.url, a.clinician.token, ChannelActivateDocument, { input: { patientId: a.patient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
  const careHandover = await ok(server.url, a.clinician.token, ConversationHandoverDocument, { input: { channelId: care, clinicSlug: b.org.slug, messageIds: [a.messageIds.reply], consent } });
  expect(codes(careHandover.conversationHandover)).toEqual(['UNSUPPORTED_CHANNEL_KIND']);
  expect(errorCodes(await request(server.url, a.patient.token, ConversationHandoverDocument, { input: { channelId: a.conversationId, clinicSlug: b.org.slug, messageIds: [a.messageIds.reply], consent } }))).toEqual([
    'FORBIDDEN',
  ]);
  const offered = await offer(a, b);
  const pending = await arrivedAt(b);
  expect(errorCodes(await request(server.url, colleague.token, HandoversDocument, { direction: 'INCOMING' }))).toEqual(['FORBIDDEN']);
  expect(codes((await ok(server.url, colleague.token, HandoverAcceptDocument, { input: { handoverId: pending.id, createPatient: true } })).handoverAccept)).toEqual(['FORBIDDEN']);
  // A's own handover id means nothing at B, and B's nothing at A.
  expect(codes((await ok(server.url, b.responder.token, HandoverAcceptDocument, { input: { handoverId: offered.id, createPatient: true } })).handoverAccept)).toEqual(['NOT_FOUND']);
  expect((await ok(server.url, a.clinician.token, HandoverAcceptDocument, { input: { handoverId: pending.id, createPatient: true } })).handoverAccept.userErrors.map((error) => error.code)).not.toEqual([]);
  // B's records hold none of A's ids.
  const stored = (await sql<{ row: string }>('select row_to_json(h)::text as row from handover h where organisation_id = ?', [b.org.id])).map((row) => row.row).join('\n');
  for (const id of [a.org.id, a.conversationId, a.patient.id, a.clinician.id, ...Object.values(a.messageIds), offered.id]) expect(stored).not.toContain(id);
});
