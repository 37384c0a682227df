import { existsSync } from 'node:fs';
import path from 'node:path';
import { purgeWithdrawnChartFiles } from '../src/modules/chart/chart-files';
import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { errorCodes, ok, request } from './support/client';
import { codes } from './support/actions';
import {
  AttachmentCreateUploadDocument,
  ChannelActivateDocument,
  ChartDocumentRegisterDocument,
  ChartDocumentUpdateDocument,
  ChartDocumentWithdrawDocument,
  ChartDocumentsDocument,
  ConversationStartDocument,
  GroupChannelCreateDocument,
  MessageChartAttachmentsDocument,
  MessageDeleteDocument,
  MessageSendDocument,
  PatientMessagesDocument,
  SendChartDocumentsDocument,
  type AttachmentPurpose,
  type ChartDocumentKind,
} from './generated/graphql';

const PDF = Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');

let server: TestServer;
let org: TestOrganisation;
let admin: Person;
let clinician: Person;
let patient: Person;
let otherPatient: Person;
let careChannelId: string;

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  [admin, clinician, patient, otherPatient] = await Promise.all([
    org.addStaff('Ada Admin', ['MESSAGING_ADMIN', 'MESSAGING_MANAGEMENT']),
    org.addStaff('Dr Chart'),
    org.addPatient('Pat Chart'),
    org.addPatient('Olly Other'),
  ]);
  careChannelId = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
});
afterAll(() => server.close());

const origin = () => new URL(server.url).origin;
const download = (url: string) => fetch(`${origin()}${url}`);

/** The integration uploads a file for the chart (its content checked) and returns its attachment id. */
async function uploadChartFile(token = org.serviceToken, purpose?: AttachmentPurpose): Promise<string> {
  const started = (await ok(server.url, token, AttachmentCreateUploadDocument, { input: { fileName: 'result.pdf', contentType: 'application/pdf', size: PDF.length, purpose } }))
    .attachmentCreateUpload;
  expect(started.userErrors).toEqual([]);
  expect((await fetch(`${origin()}${started.uploadUrl}`, { method: 'PUT', body: PDF })).status).toBe(200);
  return started.attachment!.id;
}

async function register(patientId: string, title: string, kind: ChartDocumentKind = 'LAB_RESULT', clinicalDate = '2026-11-20T09:00:00.000Z'): Promise<string> {
  const attachmentId = await uploadChartFile();
  const result = await ok(server.url, org.serviceToken, ChartDocumentRegisterDocument, { input: { patientId, attachmentId, title, kind, clinicalDate } });
  expect(result.chartDocumentRegister.userErrors).toEqual([]);
  return result.chartDocumentRegister.chartDocument!.id;
}

const send = (who: Person, channelId: string, chartDocumentIds: string[], extra: Record<string, unknown> = {}) =>
  ok(server.url, who.token, SendChartDocumentsDocument, { input: { channelId, body: 'See attached', chartDocumentIds, ...extra } }).then((result) => result.messageSend);

it('an integration registers a chart document with a file it uploaded; registering again with the same external id is safe; another registration under it is refused', async () => {
  const attachmentId = await uploadChartFile();
  const input = { patientExternalId: patient.externalId, attachmentId, title: 'Full blood count', kind: 'LAB_RESULT' as const, clinicalDate: '2026-11-01T08:30:00.000Z', externalId: 'ehr-doc-1' };
  const first = (await ok(server.url, org.serviceToken, ChartDocumentRegisterDocument, { input })).chartDocumentRegister;
  expect(first.userErrors).toEqual([]);
  expect(first.chartDocument).toMatchObject({ title: 'Full blood count', kind: 'LAB_RESULT', status: 'ACTIVE', externalId: 'ehr-doc-1', patient: { id: patient.id }, file: { fileName: 'result.pdf', contentType: 'application/pdf' } });
  const again = (await ok(server.url, org.serviceToken, ChartDocumentRegisterDocument, { input })).chartDocumentRegister;
  expect(again.chartDocument!.id).toBe(first.chartDocument!.id);

  const otherFile = await uploadChartFile();
  const taken = (await ok(server.url, org.serviceToken, ChartDocumentRegisterDocument, { input: { ...input, attachmentId: otherFile } })).chartDocumentRegister;
  expect(codes(taken)).toEqual(['EXTERNAL_ID_TAKEN']);
  // A file is one document's: registering it twice is refused.
  const twice = (await ok(server.url, org.serviceToken, ChartDocumentRegisterDocument, { input: { ...input, externalId: 'ehr-doc-2' } })).chartDocumentRegister;
  expect(codes(twice)).toEqual(['INVALID_INPUT']);

  // Its details change; its file does not (the input has no file).
  const updated = (await ok(server.url, org.serviceToken, ChartDocumentUpdateDocument, { input: { chartDocumentId: first.chartDocument!.id, title: 'FBC (amended)', kind: 'REPORT' } }))
    .chartDocumentUpdate;
  expect(updated.chartDocument).toMatchObject({ title: 'FBC (amended)', kind: 'REPORT', file: { id: attachmentId } });
});

it('denied: staff and patients do not register, change or upload chart documents; an integration uploads only chart files, and registers only its own ready upload of its own organisation', async () => {
  const documentId = await register(patient.id, 'Letter', 'LETTER');
  for (const who of [clinician, patient]) {
    const registered = await request(server.url, who.token, ChartDocumentRegisterDocument, {
      input: { patientId: patient.id, attachmentId: documentId, title: 'x', kind: 'OTHER', clinicalDate: '2026-01-01T00:00:00.000Z' },
    });
    expect(errorCodes(registered)).toEqual(['FORBIDDEN']);
    expect(errorCodes(await request(server.url, who.token, ChartDocumentUpdateDocument, { input: { chartDocumentId: documentId, title: 'x' } }))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await request(server.url, who.token, ChartDocumentWithdrawDocument, { input: { chartDocumentId: documentId, reason: 'x' } }))).toEqual(['FORBIDDEN']);
  }
  const staffChartUpload = await ok(server.url, clinician.token, AttachmentCreateUploadDocument, { input: { fileName: 'a.pdf', contentType: 'application/pdf', size: 10, purpose: 'CHART_DOCUMENT' } });
  expect(codes(staffChartUpload.attachmentCreateUpload)).toEqual(['FORBIDDEN']);
  const serviceMessageUpload = await ok(server.url, org.serviceToken, AttachmentCreateUploadDocument, { input: { fileName: 'a.pdf', contentType: 'application/pdf', size: 10, purpose: 'MESSAGE' } });
  expect(codes(serviceMessageUpload.attachmentCreateUpload)).toEqual(['FORBIDDEN']);

  // Another organisation's integration: neither this organisation's patient nor its file.
  const other = await createOrganisation(server);
  const foreignFile = await uploadChartFile(other.serviceToken);
  const mine = await uploadChartFile();
  const wrongPatient = await ok(server.url, other.serviceToken, ChartDocumentRegisterDocument, {
    input: { patientId: patient.id, attachmentId: foreignFile, title: 'x', kind: 'OTHER', clinicalDate: '2026-01-01T00:00:00.000Z' },
  });
  expect(codes(wrongPatient.chartDocumentRegister)).toEqual(['NOT_FOUND']);
  const foreignPatient = await other.addPatient('Fern Foreign');
  const wrongFile = await ok(server.url, other.serviceToken, ChartDocumentRegisterDocument, {
    input: { patientId: foreignPatient.id, attachmentId: mine, title: 'x', kind: 'OTHER', clinicalDate: '2026-01-01T00:00:00.000Z' },
  });
  expect(codes(wrongFile.chartDocumentRegister)).toEqual(['NOT_FOUND']);
  // ...nor its documents, to read or change.
  expect((await ok(server.url, other.serviceToken, ChartDocumentsDocument, { patientId: patient.id })).chartDocuments.edges).toEqual([]);
  expect(codes((await ok(server.url, other.serviceToken, ChartDocumentUpdateDocument, { input: { chartDocumentId: documentId, title: 'x' } })).chartDocumentUpdate)).toEqual(['NOT_FOUND']);
});

it('staff list and search a patient’s chart by kind, date range and title, newest clinical date first, page by page; patients cannot', async () => {
  const subject = await org.addPatient('Sue Search');
  const ids = {
    glucose: await register(subject.id, 'Glucose', 'LAB_RESULT', '2026-03-01T10:00:00.000Z'),
    xray: await register(subject.id, 'Chest X-ray', 'IMAGING', '2026-05-01T10:00:00.000Z'),
    referral: await register(subject.id, 'Referral letter', 'LETTER', '2026-07-01T10:00:00.000Z'),
    lipids: await register(subject.id, 'Lipid panel', 'LAB_RESULT', '2026-09-01T10:00:00.000Z'),
  };
  await register(otherPatient.id, 'Someone else’s result', 'LAB_RESULT', '2026-06-01T10:00:00.000Z');
  const list = async (variables: Record<string, unknown>) =>
    (await ok(server.url, clinician.token, ChartDocumentsDocument, { patientId: subject.id, ...variables })).chartDocuments;
  expect((await list({})).edges.map((edge) => edge.node.id)).toEqual([ids.lipids, ids.referral, ids.xray, ids.glucose]);
  expect((await list({ kinds: ['LAB_RESULT'] })).edges.map((edge) => edge.node.id)).toEqual([ids.lipids, ids.glucose]);
  expect((await list({ from: '2026-04-01T00:00:00.000Z', to: '2026-08-01T00:00:00.000Z' })).edges.map((edge) => edge.node.id)).toEqual([ids.referral, ids.xray]);
  expect((await list({ search: 'x-RAY' })).edges.map((edge) => edge.node.id)).toEqual([ids.xray]);
  // LIKE wildcards in the search are literal characters.
  expect((await list({ search: '%' })).edges).toEqual([]);
  const first = await list({ first: 3 });
  expect(first.pageInfo.hasNextPage).toBe(true);
  const second = await list({ first: 3, after: first.pageInfo.endCursor });
  expect(second.edges.map((edge) => edge.node.id)).toEqual([ids.glucose]);
  expect(second.pageInfo.hasNextPage).toBe(false);
  // The integration reads them too; patients never.
  expect((await ok(server.url, org.serviceToken, ChartDocumentsDocument, { patientId: subject.id })).chartDocuments.edges).toHaveLength(4);
  expect(errorCodes(await request(server.url, subject.token, ChartDocumentsDocument, { patientId: subject.id }))).toEqual(['FORBIDDEN']);
});

it('staff attach chart documents by reference in the patient’s channels; the patient sees and downloads them like any attachment, never the rest of the chart', async () => {
  const [labId, letterId] = [await register(patient.id, 'HbA1c result', 'LAB_RESULT'), await register(patient.id, 'Discharge letter', 'LETTER')];
  const sent = await send(clinician, careChannelId, [labId, letterId]);
  expect(sent.userErrors).toEqual([]);
  expect(sent.message!.attachments.map((file) => file.chartDocument?.id).sort()).toEqual([labId, letterId].sort());

  const seen = (await ok(server.url, patient.token, MessageChartAttachmentsDocument, { id: sent.message!.id })).message!;
  const lab = seen.attachments.find((file) => file.chartDocument?.id === labId)!;
  expect(lab.chartDocument).toMatchObject({ title: 'HbA1c result', kind: 'LAB_RESULT', status: 'ACTIVE', externalId: null, withdrawnReason: null, patient: null, file: null });
  const fetched = await download(lab.url!);
  expect(fetched.status).toBe(200);
  expect(Buffer.from(await fetched.arrayBuffer()).equals(PDF)).toBe(true);

  // Staff channel about the patient and a conversation with them: allowed (no second upload).
  const staffChannelId = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'STAFF' } })).channelActivate.channel!.id;
  expect((await send(clinician, staffChannelId, [labId])).userErrors).toEqual([]);
  const started = await ok(server.url, clinician.token, ConversationStartDocument, { input: { patientId: patient.id, title: 'Your results', body: 'Attached', chartDocumentIds: [labId] } });
  expect(started.conversationStart.userErrors).toEqual([]);
  const firstMessage = (await ok(server.url, patient.token, MessageChartAttachmentsDocument, { id: started.conversationStart.message!.id })).message!;
  expect(firstMessage.attachments.map((file) => file.chartDocument?.id)).toEqual([labId]);
});

it('denied: a chart document outside its patient’s channels (a group, another patient’s channel, a conversation about someone else) is refused by name; patients attach none; nothing is sent', async () => {
  const labId = await register(patient.id, 'Potassium', 'LAB_RESULT');
  const group = await ok(server.url, admin.token, GroupChannelCreateDocument, { input: { title: 'Diabetes education', teamMemberIds: [clinician.id], patientIds: [patient.id] } });
  const groupId = group.groupChannelCreate.channel!.id;
  const otherCare = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: otherPatient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
  for (const channelId of [groupId, otherCare]) {
    const refused = await send(clinician, channelId, [labId]);
    expect(refused.userErrors).toEqual([expect.objectContaining({ code: 'CHART_DOCUMENT_WRONG_CHANNEL', field: 'input.chartDocumentIds', message: expect.stringContaining("its own patient's channels") })]);
    expect(refused.message).toBeNull();
  }
  const elsewhere = await ok(server.url, clinician.token, ConversationStartDocument, { input: { patientId: otherPatient.id, title: 'Hello', body: 'Hi', chartDocumentIds: [labId] } });
  expect(codes(elsewhere.conversationStart)).toEqual(['CHART_DOCUMENT_WRONG_CHANNEL']);
  expect(codes(await send(patient, careChannelId, [labId]))).toEqual(['FORBIDDEN']);
  // An id of nothing (or of another organisation's document) is NOT_FOUND.
  expect(codes(await send(clinician, careChannelId, ['00000000-0000-4000-8000-000000000000']))).toEqual(['NOT_FOUND']);
  // Eleven attachments in all are too many.
  expect(codes(await send(clinician, careChannelId, Array.from({ length: 11 }, (_, index) => `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`)))).toEqual(['INVALID_INPUT']);
  // Nothing of these reached the channel.
  const history = (await ok(server.url, clinician.token, PatientMessagesDocument, { patientId: patient.id, first: 100 })).patientMessages.edges;
  expect(history.filter((edge) => edge.node.channel.id === groupId || edge.node.channel.id === otherCare)).toEqual([]);
});

it('a withdrawn document cannot be attached or changed; messages already sent keep it, marked withdrawn, until its file is removed (at once, or after the retention period)', async () => {
  const keptId = await register(patient.id, 'Old ECG', 'REPORT');
  const removedId = await register(patient.id, 'Misfiled result', 'LAB_RESULT');
  const kept = (await send(clinician, careChannelId, [keptId])).message!;
  const removed = (await send(clinician, careChannelId, [removedId])).message!;

  const withdrawn = (await ok(server.url, org.serviceToken, ChartDocumentWithdrawDocument, { input: { chartDocumentId: keptId, reason: 'Superseded' } })).chartDocumentWithdraw;
  expect(withdrawn.chartDocument).toMatchObject({ status: 'WITHDRAWN', withdrawnReason: 'Superseded', fileRemoved: false });
  expect(codes(await send(clinician, careChannelId, [keptId]))).toEqual(['CHART_DOCUMENT_WITHDRAWN']);
  expect(codes((await ok(server.url, org.serviceToken, ChartDocumentUpdateDocument, { input: { chartDocumentId: keptId, title: 'x' } })).chartDocumentUpdate)).toEqual(['CHART_DOCUMENT_WITHDRAWN']);
  // Gone from the chart's list unless asked for; still in the message, marked, and downloadable.
  const listed = async () => (await ok(server.url, clinician.token, ChartDocumentsDocument, { patientId: patient.id, first: 100 })).chartDocuments.edges.map((edge) => edge.node.id);
  expect(await listed()).not.toContain(keptId);
  expect((await ok(server.url, clinician.token, ChartDocumentsDocument, { patientId: patient.id, includeWithdrawn: true, first: 100 })).chartDocuments.edges.map((edge) => edge.node.id)).toContain(keptId);
  const keptFile = (await ok(server.url, patient.token, MessageChartAttachmentsDocument, { id: kept.id })).message!.attachments[0];
  expect(keptFile.chartDocument).toMatchObject({ status: 'WITHDRAWN', fileRemoved: false });
  expect((await download(keptFile.url!)).status).toBe(200);

  // Withdrawn with removeFile: the bytes go at once, from the message too.
  const chartFile = (await ok(server.url, org.serviceToken, ChartDocumentWithdrawDocument, { input: { chartDocumentId: removedId, reason: 'Wrong patient', removeFile: true } })).chartDocumentWithdraw
    .chartDocument!;
  expect(chartFile).toMatchObject({ status: 'WITHDRAWN', fileRemoved: true, file: null });
  const removedFile = (await ok(server.url, patient.token, MessageChartAttachmentsDocument, { id: removed.id })).message!.attachments;
  expect(removedFile).toEqual([]);

  // After the retention period (here: a sweep with none), the kept one's bytes go too.
  const keptStored = await storedFileOf(keptId);
  expect(existsSync(keptStored)).toBe(true);
  expect(await purgeWithdrawnChartFiles(server.orm, server.deps.files, 0)).toBeGreaterThanOrEqual(1);
  expect(existsSync(keptStored)).toBe(false);
  expect((await download(keptFile.url!)).status).toBe(404);
  expect((await ok(server.url, patient.token, MessageChartAttachmentsDocument, { id: kept.id })).message!.attachments).toEqual([]);
});

it("deleting a message that carries a chart document keeps the chart's file", async () => {
  const documentId = await register(patient.id, 'Vaccination record', 'FORM');
  const sent = (await send(clinician, careChannelId, [documentId])).message!;
  await ok(server.url, clinician.token, MessageDeleteDocument, { input: { messageId: sent.id } });
  expect(existsSync(await storedFileOf(documentId))).toBe(true);
  // Still attachable elsewhere.
  expect((await send(clinician, careChannelId, [documentId])).userErrors).toEqual([]);
});

it("patientMessages: a team member reads one patient's messages across the channels they may see, newest first, notes included, page by page; patients cannot", async () => {
  const subject = await org.addPatient('Hana History');
  const care = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: subject.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
  const staffOnly = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: subject.id, kind: 'STAFF' } })).channelActivate.channel!.id;
  const write = async (who: Person, channelId: string, body: string, internal = false) =>
    (await ok(server.url, who.token, MessageSendDocument, { input: { channelId, body, internal } })).messageSend.message!.id;
  const ids = [
    await write(clinician, care, 'Welcome'),
    await write(subject, care, 'Thanks'),
    await write(clinician, care, 'Note: follow up', true),
    await write(clinician, staffOnly, 'Staff discussion'),
  ];
  // A conversation only its members (and messaging admins) find: the admin sees it in the chart, the clinician does not.
  const hidden = await ok(server.url, admin.token, ConversationStartDocument, { input: { patientId: subject.id, title: 'Billing', body: 'About your invoice' } });
  const hiddenMessageId = hidden.conversationStart.message!.id;
  await write(clinician, careChannelId, 'Another patient');

  const history = async (who: Person, variables: Record<string, unknown> = {}) =>
    (await ok(server.url, who.token, PatientMessagesDocument, { patientId: subject.id, ...variables })).patientMessages;
  const colleague = await org.addStaff('Cleo Colleague');
  // Any team member sees the patient's care-team and staff channels (they may join them), newest first.
  expect((await history(colleague)).edges.map((edge) => edge.node.id)).toEqual([...ids].reverse());
  expect((await history(admin)).edges.map((edge) => edge.node.id)).toEqual([hiddenMessageId, ...[...ids].reverse()]);
  const page = await history(colleague, { first: 3 });
  expect(page.pageInfo.hasNextPage).toBe(true);
  expect((await history(colleague, { first: 3, after: page.pageInfo.endCursor })).edges.map((edge) => edge.node.id)).toEqual([ids[0]]);
  expect(errorCodes(await request(server.url, subject.token, PatientMessagesDocument, { patientId: subject.id }))).toEqual(['FORBIDDEN']);
  // Another organisation's team member finds nothing.
  const other = await createOrganisation(server);
  const foreign = await other.addStaff('Fay Foreign', ['MESSAGING_ADMIN']);
  expect((await history(foreign)).edges).toEqual([]);
  // Each channel read is on the audit log.
  await server.deps.auditLog.flush();
  const reads = await server.orm.em
    .fork()
    .execute<Array<{ target_id: string }>>("select distinct target_id from audit_event where organisation_id = ? and action = 'Query.patientMessages' and actor_id = ? and target_type = 'channel'", [
      org.id,
      colleague.id,
    ]);
  expect(reads.map((row) => row.target_id).sort()).toEqual([care, staffOnly].sort());
});

/** Where the local file store keeps a chart document's file. */
async function storedFileOf(documentId: string): Promise<string> {
  const [row] = await server.orm.em
    .fork()
    .execute<Array<{ storage_key: string }>>('select a.storage_key from chart_document d join attachment a on a.organisation_id = d.organisation_id and a.id = d.file_attachment_id where d.id = ?', [documentId]);
  return path.join(server.deps.config.files.dir, row.storage_key);
}
