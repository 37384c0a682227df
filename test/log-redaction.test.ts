import { Writable } from 'node:stream';
import { Client } from 'pg';
import { startTestServer, type TestServer } from './support/server';
import { createOwnDatabase, type OwnDatabase } from './support/database';
import { createOrganisation, type Person } from './support/fixtures';
import { errorCodes, ok, request } from './support/client';
import { actions, codes } from './support/actions';
import {
  ChannelMessagesDocument,
  ConversationStartDocument,
  MessageEditDocument,
  MessageSearchDocument,
  MessageSendDocument,
  MessagingSettingsUpdateDocument,
  ProfileUpdateDocument,
  PushSubscriptionRegisterDocument,
} from './generated/graphql';
import { loggedError, scrubMessage } from '../src/common/log-redaction';

/*
 * Health data never reaches the log: text that no field accepts is refused before any work, and
 * the errors of statements that fail anyway (here forced by constraints added to the file's own
 * database) are logged without their SQL, parameters or PostgreSQL's "Failing row contains".
 */

const logLines: string[] = [];
const logs = new Writable({
  write(chunk, _encoding, done) {
    logLines.push(String(chunk));
    done();
  },
});

let database: OwnDatabase;
let server: TestServer;
let staff: Person;
let patient: Person;
let channelId: string;
const { send, post, activate } = actions(() => server);

beforeAll(async () => {
  database = await createOwnDatabase('logs');
  server = await startTestServer({ LOG_LEVEL: 'info', NODE_ENV: 'production' }, undefined, { databaseUrl: database.url, logs });
  const org = await createOrganisation(server);
  const admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN']);
  await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { patientsCanStartConversations: true } });
  staff = await org.addStaff('Sam Staff');
  patient = await org.addPatient('Paula Patient');
  channelId = (await activate(staff, patient)).id;
});
afterAll(async () => {
  await server?.close();
  await database?.drop();
});

const bodies = async () => (await ok(server.url, staff.token, ChannelMessagesDocument, { id: channelId, first: 50 })).channel!.messages.edges.map((edge) => edge.node.body);

describe('text no field accepts is refused before any work, with a clear error naming the field', () => {
  it.each([
    ['NUL', 'my HIV results\u0000'],
    ['a bell', 'my HIV results\u0007'],
    ['a C1 control', 'my HIV results\u0085'],
    ['an unpaired surrogate', 'my HIV results\ud800'],
  ])('denied: %s in a message, a search, a display name, a push endpoint; allowed: tabs and line breaks', async (_label, text) => {
    const before = await bodies();
    const sent = await send(patient, channelId, text);
    expect(sent.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: 'input.body' })]);
    const searched = await request(server.url, staff.token, MessageSearchDocument, { query: text });
    expect(searched.status).toBe(200);
    expect(errorCodes(searched)).toEqual(['BAD_USER_INPUT']);
    expect(codes((await ok(server.url, patient.token, ProfileUpdateDocument, { input: { displayName: text } })).profileUpdate)).toEqual(['INVALID_INPUT']);
    const push = await ok(server.url, patient.token, PushSubscriptionRegisterDocument, { input: { mobile: { platform: 'ANDROID', token: text } } });
    expect(push.pushSubscriptionRegister.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: 'input.mobile.token' })]);
    expect(await bodies()).toEqual(before);
    expect((await send(patient, channelId, 'Line one\n\tLine two\r\n')).userErrors).toEqual([]);
  });
});

describe('errors of statements that fail are logged without what was written', () => {
  it('a constraint refusing message bodies, titles and names: INTERNAL_SERVER_ERROR to the client; the log names the SQLSTATE and constraint, never the text', async () => {
    const mine = await post(staff, channelId, 'Your appointment is on Tuesday');
    const admin = new Client({ connectionString: database.url });
    await admin.connect();
    try {
      await admin.query(`alter table message add constraint no_diagnoses check (body not like '%HIV%') not valid;
                         alter table channel add constraint no_diagnosis_titles check (title not like '%HIV%') not valid;
                         alter table patient add constraint no_diagnosis_names check (display_name not like '%HIV%') not valid`);
    } finally {
      await admin.end();
    }
    logLines.length = 0;
    // The one-statement send, the ORM's unit of work (edit, profile), a transaction with events (conversation).
    expect(errorCodes(await request(server.url, patient.token, ChannelMessagesDocument, { id: channelId }))).toEqual([]);
    const failures = [
      await request(server.url, patient.token, MessageSendDocument, { input: { channelId, body: 'my HIV results came back' } }),
      await request(server.url, staff.token, MessageEditDocument, { input: { messageId: mine.id, body: 'HIV clinic on Tuesday' } }),
      await request(server.url, patient.token, ProfileUpdateDocument, { input: { displayName: 'HIV patient' } }),
      await request(server.url, patient.token, ConversationStartDocument, { input: { title: 'My HIV results', body: 'Please call' } }),
    ];
    for (const failure of failures) expect(errorCodes(failure)).toEqual(['INTERNAL_SERVER_ERROR']);
    const logged = logLines.join('');
    expect(logged).toMatch(/database error 23514 \(no_diagnos/);
    expect(logged).not.toMatch(/HIV/);
    expect(logged).not.toMatch(/Tuesday|Please call|insert into|update "?message|Failing row/i);
  });

  it('other errors keep their type and frames; quoted values leave their messages', () => {
    expect(scrubMessage('invalid input syntax for type uuid: "my HIV results"')).toBe('invalid input syntax for type uuid: "…"');
    // PostgreSQL quotes have no backslash escapes; an unclosed quote takes the rest.
    expect(scrubMessage("a = 'C:\\' and b = 'HIV positive, Jane Doe'")).toBe("a = '…' and b = '…'");
    expect(scrubMessage('near "HIV results')).toBe('near "…"');
    const error = new TypeError("Cannot read properties of undefined (reading 'HIV')");
    expect(loggedError(error)).toMatchObject({ type: 'TypeError', message: "Cannot read properties of undefined (reading '…')", stack: expect.stringMatching(/^\s+at /) });
    expect(loggedError({ plain: 'object' })).toEqual({ plain: 'object' });
  });
});
