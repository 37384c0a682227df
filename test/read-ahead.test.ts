import { startTestServer, type TestServer } from './support/server';
import { createOrganisation } from './support/fixtures';
import { ok } from './support/client';
import { actions } from './support/actions';
import { ChannelPageDocument, ChannelPageUnreadDocument } from './generated/graphql';
import { countStatements, notAuditBatch } from '../src/db/statement-count';

/**
 * `channel(id) { messages }` reads the channel, the caller's membership and the page in one
 * statement. What it answers is exactly what the messages field answers on its own, and a
 * caller who may not see the channel or its internal notes gets nothing more from it.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());
const { post, activate } = actions(() => server);

const statementsDuring = (work: () => Promise<unknown>) => countStatements(server.deps.orm, work, notAuditBatch);

async function careTeamWithHistory() {
  const org = await createOrganisation(server);
  const clinician = await org.addStaff('Cara Clinician');
  const patient = await org.addPatient('Pat Page');
  const channel = await activate(clinician, patient);
  for (let index = 0; index < 7; index++) {
    await post(index % 2 ? patient : clinician, channel.id, `Message ${index}`);
    if (index % 3 === 0) await post(clinician, channel.id, `Internal ${index}`, { internal: true });
  }
  return { org, clinician, patient, channel };
}

it('answers the newest page, and the page before it, exactly as the messages field does on its own, in one statement', async () => {
  const { clinician, patient, channel } = await careTeamWithHistory();
  for (const who of [clinician, patient]) {
    // The first request of a token looks its caller up; count a later one.
    await ok(server.url, who.token, ChannelPageDocument, { id: channel.id, last: 1 });
    let ahead: Awaited<ReturnType<typeof read>> | undefined;
    const read = () => ok(server.url, who.token, ChannelPageDocument, { id: channel.id, last: 4 });
    expect(await statementsDuring(async () => (ahead = await read()))).toBe(1);
    const alone = await ok(server.url, who.token, ChannelPageUnreadDocument, { id: channel.id, last: 4, always: true });
    expect(ahead).toEqual(alone);
    const before = ahead!.channel!.messages.pageInfo.startCursor!;
    const older = await ok(server.url, who.token, ChannelPageDocument, { id: channel.id, last: 4, before });
    expect(older).toEqual(await ok(server.url, who.token, ChannelPageUnreadDocument, { id: channel.id, last: 4, before, always: true }));
    expect(older.channel!.messages.edges.length).toBeGreaterThan(0);
  }
  // The patient's pages hold no internal note; the clinician's do.
  const seen = async (token: string) => (await ok(server.url, token, ChannelPageDocument, { id: channel.id, last: 20 })).channel!.messages.edges.map((edge) => edge.node);
  expect((await seen(patient.token)).some((message) => message.internal)).toBe(false);
  expect((await seen(clinician.token)).filter((message) => message.internal)).toHaveLength(3);
});

it('gives a caller who may not see the channel, or who is not a member, nothing from the page read with it', async () => {
  const { org, clinician, patient, channel } = await careTeamWithHistory();
  const staffChannel = await activate(clinician, patient, 'STAFF');
  await post(clinician, staffChannel.id, 'Staff only: about the patient');
  // A patient asking for the staff channel: null, as for a random id.
  expect((await ok(server.url, patient.token, ChannelPageDocument, { id: staffChannel.id, last: 10 })).channel).toBeNull();
  expect((await ok(server.url, patient.token, ChannelPageDocument, { id: '00000000-0000-4000-8000-000000000000', last: 10 })).channel).toBeNull();
  // Another team member, not in the care-team channel: sees the channel (staff may join it) but none of its messages.
  const colleague = await org.addStaff('Col League');
  const outside = await ok(server.url, colleague.token, ChannelPageDocument, { id: channel.id, last: 10 });
  expect(outside.channel?.id).toBe(channel.id);
  expect(outside.channel!.messages.edges).toEqual([]);
  // A member of another organisation: null.
  const stranger = await (await createOrganisation(server)).addStaff('Stranger');
  expect((await ok(server.url, stranger.token, ChannelPageDocument, { id: channel.id, last: 10 })).channel).toBeNull();
});
