import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { errorCodes, eventually, ok, request } from './support/client';
import { AuditEventsDocument, MeDocument, MessagingSettingsDocument, MessagingSettingsUpdateDocument, TeamMemberArchiveDocument, TeamMemberUpsertDocument } from './generated/graphql';
import { countStatements } from '../src/db/statement-count';

/**
 * Verified identities are cached briefly, and a change of a person's permissions or their
 * archiving takes effect on the very next request, in this process and (through the event bus)
 * in every other.
 */
let server: TestServer;
let other: TestServer;
let org: TestOrganisation;

beforeAll(async () => {
  // Two servers on one database with the PostgreSQL bus between them, as two processes would be.
  server = await startTestServer({ EVENT_BUS: 'postgres' });
  other = await startTestServer({ EVENT_BUS: 'postgres' });
  org = await createOrganisation(server);
});
afterAll(async () => {
  await server.close();
  await other.close();
});

const upsert = (person: Person, permissions: Array<'MESSAGING_ADMIN' | 'MESSAGING_MANAGEMENT'>) =>
  ok(server.url, org.serviceToken, TeamMemberUpsertDocument, { input: { externalId: person.externalId, name: 'Dr Cached', permissions } });
const readAudit = async (at: TestServer, person: Person) => errorCodes(await request(at.url, person.token, AuditEventsDocument, { first: 1 }));

/** The statements a request costs that look the caller up (organisation, team member, patient). */
const lookups = (at: TestServer, run: () => Promise<unknown>) => countStatements(at.orm, run, (sql) => /from "(organisation|team_member|patient)"/.test(sql));

it('a cached identity costs no lookup; the first request of a token looks the caller up', async () => {
  const person = await org.addStaff('Dr Cached');
  expect(await lookups(server, () => ok(server.url, person.token, MeDocument, {}))).toBeGreaterThan(0);
  // `me` loads the caller itself; `{ __typename }`-like work is all that remains.
  expect(await lookups(server, () => request(server.url, person.token, AuditEventsDocument, { first: 1 }))).toBe(0);
});

it('permissions granted and withdrawn take effect on the next request, in both processes', async () => {
  const person = await org.addStaff('Dr Promoted');
  expect(await readAudit(server, person)).toEqual(['FORBIDDEN']);
  expect(await readAudit(other, person)).toEqual(['FORBIDDEN']);
  await upsert(person, ['MESSAGING_ADMIN']);
  expect(await readAudit(server, person)).toEqual([]);
  await eventually(async () => (await readAudit(other, person)).length === 0, 2_000);
  await upsert(person, []);
  expect(await readAudit(server, person)).toEqual(['FORBIDDEN']);
  await eventually(async () => (await readAudit(other, person)).includes('FORBIDDEN'), 2_000);
});

it('denied: an archived team member is refused at once here, and as soon as the notice arrives in the other process', async () => {
  const person = await org.addStaff('Dr Leaving');
  expect(errorCodes(await request(server.url, person.token, MeDocument, {}))).toEqual([]);
  expect(errorCodes(await request(other.url, person.token, MeDocument, {}))).toEqual([]);
  await ok(server.url, org.serviceToken, TeamMemberArchiveDocument, { input: { teamMemberId: person.id } });
  expect(errorCodes(await request(server.url, person.token, MeDocument, {}))).toEqual(['UNAUTHENTICATED']);
  await eventually(async () => errorCodes(await request(other.url, person.token, MeDocument, {})).includes('UNAUTHENTICATED'), 2_000);
});

it('denied: a token verified and cached is refused once it expires', async () => {
  const person = await org.addStaff('Dr Brief');
  const brief = await server.token({ role: 'staff', org: org.slug, sub: person.externalId, ttlSeconds: 2 });
  expect(errorCodes(await request(server.url, brief, MeDocument, {}))).toEqual([]);
  await new Promise((resolve) => setTimeout(resolve, 2_100));
  expect(errorCodes(await request(server.url, brief, MeDocument, {}))).toEqual(['UNAUTHENTICATED']);
});

describe('messaging settings', () => {
  const read = (at: TestServer, person: Person) => ok(at.url, person.token, MessagingSettingsDocument, {});
  const settingsReads = (at: TestServer, run: () => Promise<unknown>) => countStatements(at.orm, run, (sql) => sql.includes('from messaging_settings'));

  it('are read once and then kept; a change shows at once in this process and, through the bus, in the other', async () => {
    const admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN']);
    await read(server, admin);
    await read(other, admin);
    expect(await settingsReads(server, () => read(server, admin))).toBe(0);
    const before = (await read(other, admin)).messagingSettings.patientUploadsAllowed;
    const update = await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { patientUploadsAllowed: !before } });
    expect(update.messagingSettingsUpdate.userErrors).toEqual([]);
    expect((await read(server, admin)).messagingSettings.patientUploadsAllowed).toBe(!before);
    await eventually(async () => (await read(other, admin)).messagingSettings.patientUploadsAllowed === !before, 2_000);
  });
});
