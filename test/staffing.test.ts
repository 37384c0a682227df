import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { eventually, ok, request, subscribe } from './support/client';
import { actions } from './support/actions';
import {
  ChannelEventsDocument,
  ChannelJoinDocument,
  ChannelStaffingDocument,
  PatientUpsertDocument,
  TeamMemberArchiveDocument,
  UnstaffedChannelsDocument,
} from './generated/graphql';

let server: TestServer;
let org: TestOrganisation;
let admin: Person;

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN']);
});
afterAll(() => server.close());

const { activate } = actions(() => server);
const archive = async (who: Person) => expect((await ok(server.url, org.serviceToken, TeamMemberArchiveDocument, { input: { teamMemberId: who.id } })).teamMemberArchive.userErrors).toEqual([]);
const staffing = async (viewer: Person, channelId: string) => {
  const { channel } = await ok(server.url, viewer.token, ChannelStaffingDocument, { id: channelId });
  return { unstaffedSince: channel!.unstaffedSince, staff: channel!.members.edges.flatMap((edge) => (edge.node.teamMember ? [edge.node.teamMember.id] : [])) };
};
const unstaffedIds = async () => (await ok(server.url, admin.token, UnstaffedChannelsDocument, { first: 100 })).unstaffedChannels.edges.map((edge) => edge.node.id);

it("archiving a channel's last team member adds the patient's allocation clinician, to every such channel, told live", async () => {
  const clinician = await org.addStaff('Dr Allocation');
  const leaving = await org.addStaff('Dr Leaving');
  const patient = await org.addPatient('Alloc Patient', { allocationClinicianId: clinician.id });
  const careTeam = await activate(leaving, patient.id);
  const staffChannel = await activate(leaving, patient.id, 'STAFF');

  const before = server.deps.live.streamCount;
  const stream = subscribe(server.wsUrl, patient.token, ChannelEventsDocument, { channelId: careTeam.id });
  await eventually(() => server.deps.live.streamCount > before);
  try {
    await archive(leaving);
    const first = (await stream.next()).data!.channelEvents;
    const second = (await stream.next()).data!.channelEvents;
    expect([first.type, first.member?.teamMember?.id]).toEqual(['MEMBER_LEFT', leaving.id]);
    expect([second.type, second.member?.teamMember?.id]).toEqual(['MEMBER_JOINED', clinician.id]);
  } finally {
    await stream.close();
  }
  for (const channelId of [careTeam.id, staffChannel.id]) expect(await staffing(clinician, channelId)).toEqual({ unstaffedSince: null, staff: [clinician.id] });
  expect(await unstaffedIds()).not.toContain(careTeam.id);
});

it('a channel that keeps another team member gets nobody added', async () => {
  const clinician = await org.addStaff('Dr Standby');
  const leaving = await org.addStaff('Dr Going');
  const staying = await org.addStaff('Dr Staying');
  const patient = await org.addPatient('Staffed Patient', { allocationClinicianId: clinician.id });
  const careTeam = await activate(leaving, patient.id);
  await ok(server.url, staying.token, ChannelJoinDocument, { input: { channelId: careTeam.id } });
  await archive(leaving);
  expect(await staffing(staying, careTeam.id)).toEqual({ unstaffedSince: null, staff: [staying.id] });
});

it('without an allocation clinician (or when it is the archived one), the channel is flagged unstaffed for messaging admins until someone joins', async () => {
  const leaving = await org.addStaff('Dr Only');
  const orphan = await org.addPatient('Orphan Patient');
  const selfAllocated = await org.addPatient('Self Allocated', { allocationClinicianId: leaving.id });
  const orphanChannel = await activate(leaving, orphan.id);
  const selfChannel = await activate(leaving, selfAllocated.id, 'SERVICE_TEAM');
  await archive(leaving);

  const flagged = await unstaffedIds();
  expect(flagged).toEqual(expect.arrayContaining([orphanChannel.id, selfChannel.id]));
  expect((await staffing(admin, orphanChannel.id)).unstaffedSince).not.toBeNull();
  // The patient is not told the channel is unstaffed.
  const asPatient = await ok(server.url, orphan.token, ChannelStaffingDocument, { id: orphanChannel.id });
  expect(asPatient.channel!.unstaffedSince).toBeNull();

  await ok(server.url, admin.token, ChannelJoinDocument, { input: { channelId: orphanChannel.id } });
  expect(await staffing(admin, orphanChannel.id)).toEqual({ unstaffedSince: null, staff: [admin.id] });
  expect(await unstaffedIds()).not.toContain(orphanChannel.id);

  // Giving the patient an allocation clinician staffs their unstaffed channels.
  const newClinician = await org.addStaff('Dr New Allocation');
  await ok(server.url, org.serviceToken, PatientUpsertDocument, { input: { externalId: selfAllocated.externalId, name: 'Self Allocated', allocationClinicianId: newClinician.id } });
  expect(await staffing(newClinician, selfChannel.id)).toEqual({ unstaffedSince: null, staff: [newClinician.id] });
  expect(await unstaffedIds()).not.toContain(selfChannel.id);
});

it('denied: only messaging admins list unstaffed channels; a bad cursor is refused', async () => {
  const plain = await org.addStaff('Dr Plain', ['MESSAGING_MANAGEMENT']);
  expect((await request(server.url, plain.token, UnstaffedChannelsDocument, { first: 10 })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
  const patient = await org.addPatient('Curious Patient');
  expect((await request(server.url, patient.token, UnstaffedChannelsDocument, { first: 10 })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
  expect((await request(server.url, admin.token, UnstaffedChannelsDocument, { first: 10, after: 'nonsense' })).errors?.[0].extensions?.code).toBe('CURSOR_INVALID');
});

it('archiving twice, even at once, changes nothing the second time; an unknown team member is NOT_FOUND', async () => {
  const once = await org.addStaff('Dr Once');
  const colleague = await org.addStaff('Dr Colleague Of Once');
  const patient = await org.addPatient('Twice Patient');
  const careTeam = await activate(once, patient.id);
  await ok(server.url, colleague.token, ChannelJoinDocument, { input: { channelId: careTeam.id } });
  const before = server.deps.live.streamCount;
  const stream = subscribe(server.wsUrl, colleague.token, ChannelEventsDocument, { channelId: careTeam.id });
  await eventually(() => server.deps.live.streamCount > before);
  try {
    await Promise.all([archive(once), archive(once), archive(once)]);
    expect((await stream.next()).data!.channelEvents).toMatchObject({ type: 'MEMBER_LEFT', member: { teamMember: { id: once.id } } });
    await stream.expectSilence(300);
  } finally {
    await stream.close();
  }
  const unknown = await ok(server.url, org.serviceToken, TeamMemberArchiveDocument, { input: { teamMemberId: '00000000-0000-4000-8000-000000000000' } });
  expect(unknown.teamMemberArchive.userErrors[0].code).toBe('NOT_FOUND');
});
