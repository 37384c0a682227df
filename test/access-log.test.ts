import { randomUUID } from 'node:crypto';
import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { errorCodes, ok, request } from './support/client';
import { actions } from './support/actions';
import { AccessLogChannelMessagesDocument, AccessLogDocument, AccessLogMessageDocument } from './generated/graphql';

/**
 * The patient's own access log: who on the clinic's side opened their channels' messages, from
 * the audit trail. Reads of STAFF channels about them never appear.
 */
let server: TestServer;
let org: TestOrganisation;
let clinician: Person;
let admin: Person;

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  clinician = await org.addStaff('Dr Opened', [], ['Physiotherapist']);
  admin = await org.addStaff('Audit Admin', ['MESSAGING_ADMIN']);
});
afterAll(() => server.close());

const { activate, post } = actions(() => server);
const logOf = async (who: Person, patientId?: string) => (await ok(server.url, who.token, AccessLogDocument, { patientId, first: 50 })).accessLog.edges.map((edge) => edge.node);

it('a patient (and their guardian, and a messaging admin) sees who opened their channels, newest first; reads of a STAFF channel about them never appear', async () => {
  const patient = await org.addPatient('Logged Patient');
  const guardian = await org.addPatient('Logged Guardian', { guardianOfPatientIds: [patient.id] });
  const care = await activate(clinician, patient, 'CARE_TEAM');
  const staffOnly = await activate(clinician, patient, 'STAFF');
  await post(clinician, care.id, 'How are you?');
  await post(clinician, staffOnly.id, 'Between us: consider a referral');
  expect(await logOf(patient)).toEqual([]);

  await ok(server.url, clinician.token, AccessLogChannelMessagesDocument, { id: staffOnly.id });
  await ok(server.url, clinician.token, AccessLogChannelMessagesDocument, { id: care.id });
  // An integration's read (written as the audit trail records it): shown as the organisation, no client id.
  await server.deps.auditLog.flush();
  await server.orm.em.fork().execute(
    `insert into audit_event (organisation_id, actor_kind, actor_id, request_id, action, target_type, target_id, outcome) values (?, 'service', 'ehr-sync-client-7', ?, 'Channel.messages', 'channel', ?, 'ALLOWED')`,
    [org.id, randomUUID(), care.id],
  );

  const seen = await logOf(patient);
  expect(seen).toEqual([
    expect.objectContaining({ accessorKind: 'INTEGRATION', accessorName: `Test ${org.slug}`, accessorRole: null, via: null, channel: { id: care.id, kind: 'CARE_TEAM' } }),
    expect.objectContaining({ accessorKind: 'TEAM_MEMBER', accessorName: 'Dr Opened', accessorRole: 'Physiotherapist', via: null, channel: { id: care.id, kind: 'CARE_TEAM' } }),
  ]);
  const text = JSON.stringify(seen);
  expect(text).not.toContain(staffOnly.id);
  expect(text).not.toContain('ehr-sync-client-7');
  // The guardian sees the dependant's; a messaging admin sees the same.
  expect((await logOf(guardian, patient.id)).map((entry) => entry.id)).toEqual(seen.map((entry) => entry.id));
  // A messaging admin sees the same, and how each read was made (a patient does not: a thread or
  // search result read could hint at internal notes).
  const forAdmin = await logOf(admin, patient.id);
  expect(forAdmin.map((entry) => entry.id)).toEqual(seen.map((entry) => entry.id));
  expect(forAdmin.map((entry) => entry.via)).toEqual(['Channel.messages', 'Channel.messages']);
});

it('a message opened by its id is in the log too (the patient\'s own reads are not)', async () => {
  const patient = await org.addPatient('Looked-up Patient');
  const care = await activate(clinician, patient, 'CARE_TEAM');
  const question = await post(patient, care.id, 'A question about my knee');
  await ok(server.url, patient.token, AccessLogMessageDocument, { id: question.id });
  expect(await logOf(patient)).toEqual([]);
  const read = await ok(server.url, clinician.token, AccessLogMessageDocument, { id: question.id });
  expect(read.message?.id).toBe(question.id);
  expect(await logOf(patient)).toEqual([expect.objectContaining({ accessorName: 'Dr Opened', via: null, channel: { id: care.id, kind: 'CARE_TEAM' } })]);
  expect((await logOf(admin, patient.id)).map((entry) => entry.via)).toEqual(['Query.message']);
});

it('denied: another patient, a team member without MESSAGING_ADMIN; a patient’s own log never lists others’ channels', async () => {
  const patient = await org.addPatient('Private Patient');
  const other = await org.addPatient('Nosy Patient');
  const care = await activate(clinician, patient, 'CARE_TEAM');
  await post(clinician, care.id, 'hello');
  await ok(server.url, clinician.token, AccessLogChannelMessagesDocument, { id: care.id });
  expect(errorCodes(await request(server.url, other.token, AccessLogDocument, { patientId: patient.id }))).toEqual(['FORBIDDEN']);
  expect(errorCodes(await request(server.url, clinician.token, AccessLogDocument, { patientId: patient.id }))).toEqual(['FORBIDDEN']);
  expect(await logOf(other)).toEqual([]);
  expect(await logOf(patient)).toHaveLength(1);
});

it('pages newest first with sealed cursors', async () => {
  const patient = await org.addPatient('Paged Patient');
  const care = await activate(clinician, patient, 'CARE_TEAM');
  await post(clinician, care.id, 'hello');
  for (let index = 0; index < 3; index += 1) await ok(server.url, clinician.token, AccessLogChannelMessagesDocument, { id: care.id });
  const all = await logOf(patient);
  expect(all).toHaveLength(3);
  const first = (await ok(server.url, patient.token, AccessLogDocument, { first: 2 })).accessLog;
  const rest = (await ok(server.url, patient.token, AccessLogDocument, { first: 2, after: first.pageInfo.endCursor })).accessLog;
  expect([...first.edges, ...rest.edges].map((edge) => edge.node.id)).toEqual(all.map((entry) => entry.id));
  expect(rest.pageInfo.hasNextPage).toBe(false);
});
