import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { errorCodes, ok, request } from './support/client';
import { ActivationRuleUpdateDocument, ActivationRulesDocument, ChannelsDocument, ChannelByIdDocument, PatientUpsertDocument, TeamMemberArchiveDocument } from './generated/graphql';

let server: TestServer;
let org: TestOrganisation;
let admin: Person;
let clinician: Person;
let support: Person;

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN']);
  clinician = await org.addStaff('Dr Auto');
  support = await org.addStaff('Sam Support');
});
afterAll(() => server.close());

const setRule = (who: Person, input: { kind: 'CARE_TEAM' | 'SERVICE_TEAM' | 'STAFF'; autoActivate: boolean; teamMemberIds: string[] }) =>
  ok(server.url, who.token, ActivationRuleUpdateDocument, { input });

it('a new patient gets the auto-activated channels with the rule’s team members, in the same transaction as their creation', async () => {
  expect((await setRule(admin, { kind: 'CARE_TEAM', autoActivate: true, teamMemberIds: [clinician.id] })).activationRuleUpdate.userErrors).toEqual([]);
  expect((await setRule(admin, { kind: 'SERVICE_TEAM', autoActivate: false, teamMemberIds: [support.id] })).activationRuleUpdate.userErrors).toEqual([]);
  const rules = await ok(server.url, org.serviceToken, ActivationRulesDocument, {});
  expect(rules.activationRules).toEqual([
    { kind: 'CARE_TEAM', autoActivate: true, teamMembers: [{ id: clinician.id }] },
    { kind: 'SERVICE_TEAM', autoActivate: false, teamMembers: [{ id: support.id }] },
  ]);

  const patient = await org.addPatient('Auto Patient');
  const mine = await ok(server.url, patient.token, ChannelsDocument, { first: 10 });
  expect(mine.channels.edges.map((edge) => edge.node.kind)).toEqual(['CARE_TEAM']);
  const channelId = mine.channels.edges[0].node.id;
  const seen = await ok(server.url, clinician.token, ChannelByIdDocument, { id: channelId });
  expect(seen.channel!.members.edges.map((edge) => edge.node.teamMember?.id ?? edge.node.patient?.id).sort()).toEqual([clinician.id, patient.id].sort());
  expect((await ok(server.url, support.token, ChannelsDocument, { first: 10 })).channels.edges).toEqual([]);

  // Updating an existing patient activates nothing again.
  await org.addPatient('Another Auto Patient');
  expect((await ok(server.url, clinician.token, ChannelsDocument, { first: 10 })).channels.edges).toHaveLength(2);
});

it('an archived rule member is left out; with none left, the allocation clinician stands in', async () => {
  const leaving = await org.addStaff('Dr Leaving Rule');
  await setRule(admin, { kind: 'SERVICE_TEAM', autoActivate: true, teamMemberIds: [leaving.id] });
  await ok(server.url, org.serviceToken, TeamMemberArchiveDocument, { input: { teamMemberId: leaving.id } });
  const withoutClinician = await org.addPatient('No Allocation');
  expect((await ok(server.url, withoutClinician.token, ChannelsDocument, { first: 10, filter: { kind: 'SERVICE_TEAM' } })).channels.edges).toEqual([]);

  const allocated = await ok(server.url, org.serviceToken, PatientUpsertDocument, {
    input: { externalId: `allocated-${Date.now()}`, name: 'With Allocation', allocationClinicianId: support.id },
  });
  const allocatedId = allocated.patientUpsert.patient!.id;
  const supportChannels = await ok(server.url, support.token, ChannelsDocument, { first: 10, filter: { kind: 'SERVICE_TEAM', patientId: allocatedId } });
  expect(supportChannels.channels.edges).toHaveLength(1);
  await setRule(admin, { kind: 'SERVICE_TEAM', autoActivate: false, teamMemberIds: [] });
});

it('denied: rules need MESSAGING_ADMIN, an activatable kind, real team members, and someone to staff the channel', async () => {
  expect((await setRule(clinician, { kind: 'CARE_TEAM', autoActivate: false, teamMemberIds: [] })).activationRuleUpdate.userErrors.map((e) => e.code)).toEqual(['FORBIDDEN']);
  expect((await setRule(admin, { kind: 'STAFF', autoActivate: true, teamMemberIds: [clinician.id] })).activationRuleUpdate.userErrors.map((e) => e.code)).toEqual([
    'UNSUPPORTED_CHANNEL_KIND',
  ]);
  expect((await setRule(admin, { kind: 'CARE_TEAM', autoActivate: true, teamMemberIds: [] })).activationRuleUpdate.userErrors.map((e) => e.code)).toEqual(['INVALID_INPUT']);
  expect(
    (await setRule(admin, { kind: 'CARE_TEAM', autoActivate: true, teamMemberIds: ['00000000-0000-4000-8000-000000000000'] })).activationRuleUpdate.userErrors.map((e) => e.code),
  ).toEqual(['NOT_FOUND']);
  const patientToken = (await org.addPatient('Rule Reader')).token;
  expect(errorCodes(await request(server.url, patientToken, ActivationRulesDocument, {}))).toEqual(['FORBIDDEN']);
  // Nothing changed: the care-team rule is still the first test's.
  expect((await ok(server.url, admin.token, ActivationRulesDocument, {})).activationRules[0]).toEqual({ kind: 'CARE_TEAM', autoActivate: true, teamMembers: [{ id: clinician.id }] });
});
