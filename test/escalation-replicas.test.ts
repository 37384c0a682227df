import { Client } from 'pg';
import { createOwnDatabase, type OwnDatabase } from './support/database';
import { startServerProcess, type ServerProcess } from './support/process';
import { createOrganisation, type Person } from './support/fixtures';
import { eventually, ok } from './support/client';
import { ChannelActivateDocument, MessageSendDocument, ResponseTargetsUpdateDocument } from './generated/graphql';

/**
 * Two server processes on one database, each escalating every 20 ms: a wait past its due time is
 * escalated once per level, whichever process gets to it, however many passes both make.
 */
let database: OwnDatabase;
let servers: ServerProcess[] = [];
let db: Client;

beforeAll(async () => {
  database = await createOwnDatabase('escalation');
  servers.push(await startServerProcess(database.url, { ESCALATION_POLL_MS: '20' }));
  servers.push(await startServerProcess(database.url, { ESCALATION_POLL_MS: '20' }));
  db = new Client({ connectionString: database.url });
  await db.connect();
}, 90_000);
afterAll(async () => {
  await db?.end();
  await Promise.all(servers.map((server) => server.stop()));
  servers = [];
  await database?.drop();
});

const CHANNELS = 20;
const count = async (sql: string, params: unknown[]) => Number((await db.query<{ n: string }>(sql, params)).rows[0].n);

it('two processes escalate each overdue patient message once per level, with one event, one notice per person and one audit record each', async () => {
  const [first, second] = servers;
  const org = await createOrganisation(first);
  const admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN'], ['Practice Manager']);
  const clinician = await org.addStaff('Cleo Clinician');
  const triage = await org.addStaff('Tess Triage', [], ['Triage']);
  const settings = (await ok(first.url, admin.token, ResponseTargetsUpdateDocument, { input: { routineResponseMinutes: 60, secondEscalationMinutes: 30, responseTimeBasis: 'WALL_CLOCK', newPatientMessageRoleGroup: 'Triage' } })).messagingSettingsUpdate;
  expect(settings.userErrors).toEqual([]);
  const channels: string[] = [];
  for (let index = 0; index < CHANNELS; index++) {
    const patient: Person = await org.addPatient(`Patient ${index}`);
    const channel = (await ok(first.url, clinician.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!;
    channels.push(channel.id);
    // Through either process: where a message was written does not matter.
    await ok((index % 2 ? first : second).url, patient.token, MessageSendDocument, { input: { channelId: channel.id, body: `Question ${index}` } });
  }
  expect(await count('select count(*) as n from response_due where organisation_id = $1 and level = 0', [org.id])).toBe(CHANNELS);

  // An hour passes for every wait at once: both processes find all of them due.
  await db.query(`update response_due set due_at = now() - interval '1 minute', next_at = now() - interval '1 minute' where organisation_id = $1`, [org.id]);
  await eventually(async () => (await count('select count(*) as n from response_due where organisation_id = $1 and level = 1', [org.id])) === CHANNELS, 10_000);
  // Both keep passing; the second level is not due for 30 minutes.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const perChannel = async () =>
    (await db.query<{ channel_id: string; n: string }>(`select channel_id, count(*) as n from channel_event where organisation_id = $1 and type = 'ESCALATED' group by channel_id order by channel_id`, [org.id])).rows.map((row) => [row.channel_id, Number(row.n)]);
  expect(await perChannel()).toEqual([...channels].sort().map((id) => [id, 1]));
  expect(await count(`select count(*) as n from notification where organisation_id = $1 and kind = 'ESCALATION' and team_member_id = $2`, [org.id, clinician.id])).toBe(CHANNELS);
  expect(await count(`select count(*) as n from notification where organisation_id = $1 and kind = 'ESCALATION' and team_member_id = $2`, [org.id, triage.id])).toBe(0);

  await db.query(`update response_due set next_at = now() - interval '1 minute' where organisation_id = $1`, [org.id]);
  await eventually(async () => (await count('select count(*) as n from response_due where organisation_id = $1 and level = 2', [org.id])) === CHANNELS, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(await perChannel()).toEqual([...channels].sort().map((id) => [id, 2]));
  expect(await count(`select count(*) as n from notification where organisation_id = $1 and kind = 'ESCALATION' and team_member_id = $2`, [org.id, triage.id])).toBe(CHANNELS);
  expect(await count(`select count(*) as n from audit_event where organisation_id = $1 and action = 'Escalation.escalate'`, [org.id])).toBe(2 * CHANNELS);
  // Each step was taken by exactly one of the processes.
  const logged = servers.map((server) => server.logs.filter((entry) => entry.msg === 'conversation escalated' && entry.organisationId === org.id).length);
  expect(logged[0] + logged[1]).toBe(2 * CHANNELS);
}, 60_000);
