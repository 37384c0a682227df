import { startTestServer, type TestServer } from './support/server';
import { createOrganisation } from './support/fixtures';
import { ok } from './support/client';
import { randomUUID } from 'node:crypto';
import { ChannelByIdDocument, ChannelListWithDetailsDocument, ChannelPageDocument, DirectChannelOpenDocument, GroupChannelCreateDocument, MessageByIdDocument, MessageSendDocument, PatientProfileDocument, ResponsesDueDocument, ResponseTargetsUpdateDocument } from './generated/graphql';
import { countStatements, notAuditBatch } from '../src/db/statement-count';
import { actions } from './support/actions';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());
const { activate } = actions(() => server);

/** Counts the SQL statements the server runs while `work` runs (this file's server does nothing else meanwhile). */
const statementsDuring = (work: () => Promise<unknown>) => countStatements(server.deps.orm, work, notAuditBatch);

/**
 * DataLoader batches the loads of one tick: two loads of one type (authors, members) fall in one
 * tick or two depending on when the database answers, so a single run may save one statement.
 * The largest of three runs is what a page size costs.
 */
async function largestStatementCount(token: string, first: number): Promise<number> {
  const counts: number[] = [];
  for (let run = 0; run < 3; run++) {
    counts.push(
      await statementsDuring(async () => {
        const result = await ok(server.url, token, ChannelListWithDetailsDocument, { first });
        expect(result.channels.edges).toHaveLength(first);
      }),
    );
  }
  return Math.max(...counts);
}

it('channels(first: 10) and channels(first: 100) with lastMessage, unreadCount and members cost the same number of SQL statements', async () => {
  const org = await createOrganisation(server);
  const manager = await org.addStaff('Mia Manager', ['MESSAGING_MANAGEMENT']);
  const colleague = await org.addStaff('Col League');
  const patient = await org.addPatient('Pat Many');
  for (let batch = 0; batch < 10; batch++) {
    await Promise.all(
      Array.from({ length: 10 }, async (_, index) => {
        const created = await ok(server.url, manager.token, GroupChannelCreateDocument, {
          input: { title: `Group ${batch}-${index}`, teamMemberIds: [colleague.id], patientIds: [patient.id] },
        });
        const channelId = created.groupChannelCreate.channel!.id;
        await ok(server.url, colleague.token, MessageSendDocument, { input: { channelId, body: `Hello ${batch}-${index}` } });
      }),
    );
  }
  for (const who of [manager, patient]) {
    // The first request of a token looks its caller up; later ones use the cached identity.
    await ok(server.url, who.token, ChannelListWithDetailsDocument, { first: 1 });
    const ten = await largestStatementCount(who.token, 10);
    const hundred = await largestStatementCount(who.token, 100);
    // Loads of one type from two places (message authors, members' people) share a batch or take
    // two, depending on when the database answers under load: at most two statements apart.
    // An N+1 would add about ninety.
    expect(Math.abs(hundred - ten)).toBeLessThanOrEqual(2);
    // The list and one batch per field: a handful, not one per channel.
    expect(ten).toBeLessThan(16);
  }
});

it('responsesDue(first: 2) and (first: 12) with channel, patient and the waiting message cost the same number of SQL statements', async () => {
  const org = await createOrganisation(server);
  const admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN']);
  const clinician = await org.addStaff('Cleo Clinician');
  await ok(server.url, admin.token, ResponseTargetsUpdateDocument, { input: { routineResponseMinutes: 60, responseTimeBasis: 'WALL_CLOCK' } });
  for (let index = 0; index < 12; index++) {
    const patient = await org.addPatient(`Waiting ${index}`);
    const { id: channelId } = await activate(clinician, patient.id);
    await ok(server.url, patient.token, MessageSendDocument, { input: { channelId, body: `Question ${index}` } });
  }
  await ok(server.url, clinician.token, ResponsesDueDocument, { first: 1 });
  const cost = async (first: number) => {
    const counts: number[] = [];
    for (let run = 0; run < 3; run++) {
      counts.push(
        await statementsDuring(async () => {
          const page = (await ok(server.url, clinician.token, ResponsesDueDocument, { first })).responsesDue.edges;
          expect(page).toHaveLength(first);
          expect(page.every((edge) => edge.node.message?.body.startsWith('Question'))).toBe(true);
        }),
      );
    }
    return Math.max(...counts);
  };
  const two = await cost(2);
  const twelve = await cost(12);
  expect(Math.abs(twelve - two)).toBeLessThanOrEqual(2);
  expect(two).toBeLessThan(10);
});

it("a team member's message to a patient takes two statements: the channel, membership and patient in one, the write in the other", async () => {
  const org = await createOrganisation(server);
  const clinician = await org.addStaff('Cora Clinician');
  const patient = await org.addPatient('Pat Reachable');
  const { id: channelId } = await activate(clinician, patient.id);
  // The first send also reads the caller's identity and the organisation's settings, then kept.
  await ok(server.url, clinician.token, MessageSendDocument, { input: { channelId, body: 'First' } });
  const statements = await statementsDuring(async () => {
    const sent = await ok(server.url, clinician.token, MessageSendDocument, { input: { channelId, body: 'Second' } });
    expect(sent.messageSend.userErrors).toEqual([]);
  });
  expect(statements).toBe(2);
});

it('a hidden channel, message or patient costs the statements of a random id: nothing is learnt from how long an answer takes', async () => {
  const org = await createOrganisation(server);
  const clinician = await org.addStaff('Cal Clinician');
  const colleague = await org.addStaff('Col League');
  const outsider = await org.addStaff('Otto Outside');
  const patient = await org.addPatient('Pat Probe');
  const otherPatient = await org.addPatient('Oli Other');
  const staffChannel = await activate(clinician, patient, 'STAFF');
  const direct = (await ok(server.url, clinician.token, DirectChannelOpenDocument, { input: { teamMemberIds: [colleague.id] } })).directChannelOpen.channel!.id;
  const staffNote = (await ok(server.url, clinician.token, MessageSendDocument, { input: { channelId: staffChannel.id, body: 'About the patient' } })).messageSend.message!.id;
  const directMessage = (await ok(server.url, clinician.token, MessageSendDocument, { input: { channelId: direct, body: 'Between us' } })).messageSend.message!.id;

  const probes = [
    { who: patient, hidden: () => ok(server.url, patient.token, ChannelByIdDocument, { id: staffChannel.id }), random: () => ok(server.url, patient.token, ChannelByIdDocument, { id: randomUUID() }) },
    { who: patient, hidden: () => ok(server.url, patient.token, ChannelPageDocument, { id: staffChannel.id, last: 5 }), random: () => ok(server.url, patient.token, ChannelPageDocument, { id: randomUUID(), last: 5 }) },
    { who: patient, hidden: () => ok(server.url, patient.token, MessageByIdDocument, { id: staffNote }), random: () => ok(server.url, patient.token, MessageByIdDocument, { id: randomUUID() }) },
    { who: outsider, hidden: () => ok(server.url, outsider.token, ChannelByIdDocument, { id: direct }), random: () => ok(server.url, outsider.token, ChannelByIdDocument, { id: randomUUID() }) },
    { who: outsider, hidden: () => ok(server.url, outsider.token, MessageByIdDocument, { id: directMessage }), random: () => ok(server.url, outsider.token, MessageByIdDocument, { id: randomUUID() }) },
    { who: patient, hidden: () => ok(server.url, patient.token, PatientProfileDocument, { id: otherPatient.id }), random: () => ok(server.url, patient.token, PatientProfileDocument, { id: randomUUID() }) },
  ];
  for (const [index, probe] of probes.entries()) {
    // Warm: the caller's identity is cached after their first request.
    await probe.random();
    const hidden = await statementsDuring(probe.hidden);
    const random = await statementsDuring(probe.random);
    expect({ probe: index, statements: hidden }).toEqual({ probe: index, statements: random });
  }
});
