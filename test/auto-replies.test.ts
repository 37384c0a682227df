import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { ok } from './support/client';
import { actions } from './support/actions';
import {
  ChannelActivateDocument,
  ChannelSystemMessagesDocument,
  ConversationStartDocument,
  MessagingSettingsUpdateDocument,
  type MessagingSettingsUpdateInput,
  type Weekday,
} from './generated/graphql';

let server: TestServer;
let org: TestOrganisation;
let admin: Person;
let clinician: Person;

const WEEKDAYS: Weekday[] = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];
/** A day that is not today in UTC (so that opening hours on it alone make now "closed"). */
const notToday = () => WEEKDAYS[(new Date().getUTCDay() + 3) % 7];

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN']);
  clinician = await org.addStaff('Dr Auto Reply');
});
afterAll(() => server.close());

const settings = async (input: MessagingSettingsUpdateInput) => (await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input })).messagingSettingsUpdate;
const history = async (who: Person, channelId: string) =>
  (await ok(server.url, who.token, ChannelSystemMessagesDocument, { id: channelId })).channel!.messages.edges.map((edge) => ({ body: edge.node.body, system: edge.node.system }));
const { send } = actions(() => server);

it("answers a patient's new conversation once, as a system message without an author", async () => {
  await settings({ patientsCanStartConversations: true, autoReplyNewConversation: 'Thank you — we reply within two working days.' });
  const patient = await org.addPatient('New Conversation Patient', { allocationClinicianId: clinician.id });
  const started = await ok(server.url, patient.token, ConversationStartDocument, { input: { title: 'Question', body: 'Hello?' } });
  const channelId = started.conversationStart.channel!.id;
  expect(await history(patient, channelId)).toEqual([
    { body: 'Hello?', system: false },
    { body: 'Thank you — we reply within two working days.', system: true },
  ]);
  const raw = await ok(server.url, clinician.token, ChannelSystemMessagesDocument, { id: channelId });
  expect(raw.channel!.messages.edges[1].node.author).toBeNull();
  await send(patient, channelId, 'One more thing');
  expect((await history(patient, channelId)).filter((message) => message.system)).toHaveLength(1);
  await settings({ autoReplyNewConversation: '' });
});

it('answers outside opening hours once per period; never inside them, never staff', async () => {
  const patient = await org.addPatient('Out Of Hours Patient');
  const channelId = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
  expect(
    (await settings({ autoReplyOutsideHours: 'We are closed; in an emergency call 999.', openingHours: [{ day: notToday(), opens: '09:00', closes: '17:00' }], timeZone: 'UTC' })).userErrors,
  ).toEqual([]);
  await send(clinician, channelId, 'Staff write any time');
  await send(patient, channelId, 'Are you there?');
  await send(patient, channelId, 'Hello again');
  expect(await history(patient, channelId)).toEqual([
    { body: 'Staff write any time', system: false },
    { body: 'Are you there?', system: false },
    { body: 'We are closed; in an emergency call 999.', system: true },
    { body: 'Hello again', system: false },
  ]);

  const open = await org.addPatient('In Hours Patient');
  const openChannel = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: open.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
  await settings({ openingHours: WEEKDAYS.map((day) => ({ day, opens: '00:00', closes: '24:00' })) });
  await send(open, openChannel, 'During opening hours');
  expect(await history(open, openChannel)).toEqual([{ body: 'During opening hours', system: false }]);
});

it('denied: bad opening hours, time zone or period are refused', async () => {
  for (const input of [
    { timeZone: 'Mars/Olympus' },
    { openingHours: [{ day: 'MONDAY' as Weekday, opens: '9am', closes: '17:00' }] },
    { openingHours: [{ day: 'MONDAY' as Weekday, opens: '17:00', closes: '09:00' }] },
    { autoReplyPeriodHours: 0 },
  ]) {
    expect((await settings(input)).userErrors[0].code).toBe('INVALID_INPUT');
  }
});
