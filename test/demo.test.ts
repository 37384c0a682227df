import { startTestServer, type TestServer } from './support/server';
import { createOwnDatabase, type OwnDatabase } from './support/database';
import { ok } from './support/client';
import { seedDemo, DEMO_SLUG, DEMO_USERS } from '../src/db/seed';
import { ChannelsDocument, MeDocument } from './generated/graphql';

let database: OwnDatabase;
let server: TestServer;

beforeAll(async () => {
  // The demo organisation has a fixed slug, and the notification tests seed it in the run's
  // database while this file runs in parallel: this file seeds its own, in a database of its own.
  database = await createOwnDatabase('demo');
  server = await startTestServer({}, undefined, { databaseUrl: database.url });
  expect(await seedDemo(server.deps)).toBe(true);
  // Idempotent: a second run finds the organisation and does nothing.
  expect(await seedDemo(server.deps)).toBe(false);
});
afterAll(async () => {
  await server?.close();
  await database?.drop();
});

const tokenOf = (sub: string) => {
  const user = DEMO_USERS.find((candidate) => candidate.sub === sub)!;
  return server.token({ role: user.role, sub: user.sub, org: user.role === 'operator' ? undefined : DEMO_SLUG });
};

describe('the demo organisation', () => {
  it('every printed demo user can sign in', async () => {
    for (const user of DEMO_USERS) {
      const me = await ok(server.url, await tokenOf(user.sub), MeDocument);
      expect(me.me.__typename).toBe({ staff: 'TeamMember', patient: 'Patient', service: 'ServiceClient', operator: 'Operator' }[user.role]);
    }
  });

  it("the clinician lists every channel they are in; a patient only their own patient-visible ones; a guardian their dependant's", async () => {
    const staff = await ok(server.url, await tokenOf('clinician-amelia'), ChannelsDocument, {});
    expect(staff.channels.edges.map((edge) => edge.node.kind).sort()).toEqual(['CARE_TEAM', 'CARE_TEAM', 'CONVERSATION', 'STAFF']);
    const patient = await ok(server.url, await tokenOf('patient-oliver'), ChannelsDocument, {});
    expect(patient.channels.edges.map((edge) => edge.node.kind).sort()).toEqual(['CARE_TEAM', 'CONVERSATION']);
    const guardian = await ok(server.url, await tokenOf('patient-sofia'), ChannelsDocument, {});
    expect(guardian.channels.edges.map((edge) => edge.node.kind)).toEqual(['CARE_TEAM']);
  });
});
