import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { ok, request } from './support/client';
import { codes } from './support/actions';
import {
  ChannelActivateDocument,
  ConversationStartDocument,
  DirectChannelOpenDocument,
  MessageTemplateCreateDocument,
  MessageTemplateDeleteDocument,
  MessageTemplateUpdateDocument,
  MessageTemplatesDocument,
  SendFullDocument,
} from './generated/graphql';

let server: TestServer;
let org: TestOrganisation;
let admin: Person;
let clinician: Person;
let patient: Person;
let channelId: string;

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN']);
  clinician = await org.addStaff('Dr Template');
  patient = await org.addPatient('Zoë [click](https://evil.example) Smith');
  channelId = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
});
afterAll(() => server.close());

const create = async (who: Person, name: string, body: string) => (await ok(server.url, who.token, MessageTemplateCreateDocument, { input: { name, body } })).messageTemplateCreate;

it('messaging admins write templates; staff send them with the patient’s first name and the clinic’s name filled in, escaped', async () => {
  const created = await create(admin, 'Results ready', 'Hello {{patient.firstName}}, your results from {{ clinic.name }} are ready.');
  expect(created.userErrors).toEqual([]);
  const templateId = created.messageTemplate!.id;
  expect((await ok(server.url, clinician.token, MessageTemplatesDocument, {})).messageTemplates.map((template) => template.name)).toContain('Results ready');

  const sent = await ok(server.url, clinician.token, SendFullDocument, { input: { channelId, templateId } });
  expect(sent.messageSend.message!.body).toBe(`Hello Zoë, your results from Test ${org.slug.replace(/-/g, '\\-')} are ready.`);
  const started = await ok(server.url, clinician.token, ConversationStartDocument, { input: { patientId: patient.id, title: 'Results', templateId } });
  expect(started.conversationStart.message!.body).toMatch(/^Hello Zoë, your results/);

  const renamed = await ok(server.url, admin.token, MessageTemplateUpdateDocument, { input: { templateId, name: 'Results are ready' } });
  expect(renamed.messageTemplateUpdate.messageTemplate).toMatchObject({ name: 'Results are ready', body: created.messageTemplate!.body });
  const deleted = await ok(server.url, admin.token, MessageTemplateDeleteDocument, { input: { templateId } });
  expect(deleted.messageTemplateDelete.userErrors).toEqual([]);
  expect(codes((await ok(server.url, clinician.token, SendFullDocument, { input: { channelId, templateId } })).messageSend)).toEqual(['NOT_FOUND']);
});

it('denied: without MESSAGING_ADMIN, unknown placeholders, duplicate names, a body and a template at once, a patient template in a DM, patients', async () => {
  expect(codes(await create(clinician, 'Mine', 'Hi'))).toEqual(['FORBIDDEN']);
  const unknown = await create(admin, 'Leaky', 'Your diagnosis: {{patient.diagnosis}}');
  expect(unknown.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: 'input.body' });
  const first = await create(admin, 'Greeting', 'Hello {{patient.firstName}}');
  expect(codes(await create(admin, 'Greeting', 'Another'))).toEqual(['INVALID_INPUT']);
  const templateId = first.messageTemplate!.id;
  expect(codes((await ok(server.url, clinician.token, SendFullDocument, { input: { channelId, templateId, body: 'and text' } })).messageSend)).toEqual(['INVALID_INPUT']);
  const dm = await ok(server.url, clinician.token, DirectChannelOpenDocument, { input: { teamMemberIds: [admin.id] } });
  const inDm = await ok(server.url, clinician.token, SendFullDocument, { input: { channelId: dm.directChannelOpen.channel!.id, templateId } });
  expect(inDm.messageSend.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: 'input.templateId' });
  expect(codes((await ok(server.url, patient.token, SendFullDocument, { input: { channelId, templateId } })).messageSend)).toEqual(['FORBIDDEN']);
  expect((await request(server.url, patient.token, MessageTemplatesDocument, {})).errors?.[0].extensions?.code).toBe('FORBIDDEN');
  const foreign = await createOrganisation(server);
  const foreignAdmin = await foreign.addStaff('Foreign Admin', ['MESSAGING_ADMIN']);
  expect(codes((await ok(server.url, foreignAdmin.token, MessageTemplateDeleteDocument, { input: { templateId } })).messageTemplateDelete)).toEqual(['NOT_FOUND']);
});
