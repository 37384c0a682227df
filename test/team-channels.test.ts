import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { errorCodes, ok, request } from './support/client';
import {
  ChannelActivateDocument,
  ChannelByIdDocument,
  ChannelMembersAddDocument,
  ChannelsDocument,
  DirectChannelOpenDocument,
  GroupChannelCreateDocument,
  MessageSendDocument,
  TeamMemberArchiveDocument,
} from './generated/graphql';

let server: TestServer;
let org: TestOrganisation;
let manager: Person;
let ana: Person;
let ben: Person;
let cal: Person;
let patient: Person;

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  manager = await org.addStaff('Dr Manager', ['MESSAGING_MANAGEMENT']);
  [ana, ben, cal] = [await org.addStaff('Ana'), await org.addStaff('Ben'), await org.addStaff('Cal')];
  patient = await org.addPatient('Group Patient');
});
afterAll(() => server.close());

const openDirect = (who: Person, teamMemberIds: string[]) => ok(server.url, who.token, DirectChannelOpenDocument, { input: { teamMemberIds } });

describe('directChannelOpen', () => {
  it('the same set of people always gets the same channel, whoever opens it; another set gets another', async () => {
    const first = (await openDirect(ana, [ben.id])).directChannelOpen;
    expect(first.userErrors).toEqual([]);
    expect(first.channel!.kind).toBe('DIRECT');
    expect(first.channel!.members.edges.map((edge) => edge.node.teamMember!.id).sort()).toEqual([ana.id, ben.id].sort());
    expect((await openDirect(ben, [ana.id, ben.id])).directChannelOpen.channel!.id).toBe(first.channel!.id);
    const trio = (await openDirect(ana, [ben.id, cal.id])).directChannelOpen.channel!;
    expect(trio.id).not.toBe(first.channel!.id);
  });

  it('opened concurrently, it is created once', async () => {
    const results = await Promise.all([openDirect(ben, [cal.id]), openDirect(cal, [ben.id]), openDirect(ben, [cal.id])]);
    expect(new Set(results.map((result) => result.directChannelOpen.channel!.id)).size).toBe(1);
  });

  it('denied: outsiders cannot see it; patients cannot open one; bad sets are refused and change nothing', async () => {
    // Two people of this test's own, so their channel lists hold exactly what this test made.
    const [dee, eve] = [await org.addStaff('Dee'), await org.addStaff('Eve')];
    const dm = (await openDirect(dee, [eve.id])).directChannelOpen.channel!;
    const care = (await ok(server.url, dee.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!;
    expect((await ok(server.url, cal.token, ChannelByIdDocument, { id: dm.id })).channel).toBeNull();
    expect((await ok(server.url, patient.token, ChannelByIdDocument, { id: dm.id })).channel).toBeNull();
    expect(errorCodes(await request(server.url, patient.token, DirectChannelOpenDocument, { input: { teamMemberIds: [dee.id] } }))).toEqual(['FORBIDDEN']);
    expect((await openDirect(dee, [dee.id])).directChannelOpen.userErrors.map((e) => e.code)).toEqual(['INVALID_INPUT']);
    expect((await openDirect(dee, [patient.id])).directChannelOpen.userErrors.map((e) => e.code)).toEqual(['NOT_FOUND']);
    const gone = await org.addStaff('Gone');
    await ok(server.url, org.serviceToken, TeamMemberArchiveDocument, { input: { teamMemberId: gone.id } });
    expect((await openDirect(dee, [gone.id])).directChannelOpen.userErrors.map((e) => e.code)).toEqual(['NOT_FOUND']);
    // The refused opens made no channel: Dee is in her direct channel and the care team, nothing more.
    const ids = async (filter?: { kind: 'DIRECT' }) => (await ok(server.url, dee.token, ChannelsDocument, { filter, first: 50 })).channels.edges.map((edge) => edge.node.id).sort();
    expect(await ids()).toEqual([dm.id, care.id].sort());
    expect(await ids({ kind: 'DIRECT' })).toEqual([dm.id]);
  });
});

describe('group channels', () => {
  it('with MESSAGING_MANAGEMENT: created with patients and team members, who can all talk; participants added later', async () => {
    const created = (await ok(server.url, manager.token, GroupChannelCreateDocument, { input: { title: 'Tuesday group', teamMemberIds: [ana.id], patientIds: [patient.id] } }))
      .groupChannelCreate;
    expect(created.userErrors).toEqual([]);
    expect(created.channel).toMatchObject({ kind: 'GROUP', title: 'Tuesday group' });
    const groupId = created.channel!.id;
    expect((await ok(server.url, patient.token, ChannelsDocument, { first: 50 })).channels.edges.map((edge) => edge.node.id)).toContain(groupId);
    expect((await ok(server.url, patient.token, MessageSendDocument, { input: { channelId: groupId, body: 'hello group' } })).messageSend.userErrors).toEqual([]);

    const second = await org.addPatient('Second Patient');
    const added = await ok(server.url, manager.token, ChannelMembersAddDocument, { input: { channelId: groupId, patientIds: [second.id], teamMemberIds: [ben.id] } });
    expect(added.channelMembersAdd.userErrors).toEqual([]);
    const members = added.channelMembersAdd.channel!.members.edges.map((edge) => edge.node.teamMember?.id ?? edge.node.patient?.id);
    expect(members.sort()).toEqual([manager.id, ana.id, ben.id, patient.id, second.id].sort());
  });

  it('denied: creating or managing a group without MESSAGING_MANAGEMENT; patients in patient channels; members of direct channels', async () => {
    const refused = await ok(server.url, ana.token, GroupChannelCreateDocument, { input: { title: 'Not mine', patientIds: [patient.id] } });
    expect(refused.groupChannelCreate.userErrors.map((e) => e.code)).toEqual(['FORBIDDEN']);
    const group = (await ok(server.url, manager.token, GroupChannelCreateDocument, { input: { title: 'Managed', teamMemberIds: [ana.id] } })).groupChannelCreate.channel!;
    const byAna = await ok(server.url, ana.token, ChannelMembersAddDocument, { input: { channelId: group.id, patientIds: [patient.id] } });
    expect(byAna.channelMembersAdd.userErrors.map((e) => e.code)).toEqual(['FORBIDDEN']);

    const care = (await ok(server.url, ana.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!;
    const otherPatient = await org.addPatient('Not In Care Team');
    const intoCare = await ok(server.url, ana.token, ChannelMembersAddDocument, { input: { channelId: care.id, patientIds: [otherPatient.id] } });
    expect(intoCare.channelMembersAdd.userErrors.map((e) => e.code)).toEqual(['UNSUPPORTED_CHANNEL_KIND']);
    const staffIntoCare = await ok(server.url, ana.token, ChannelMembersAddDocument, { input: { channelId: care.id, teamMemberIds: [cal.id] } });
    expect(staffIntoCare.channelMembersAdd.userErrors).toEqual([]);

    const dm = (await openDirect(ana, [ben.id])).directChannelOpen.channel!;
    const intoDm = await ok(server.url, ana.token, ChannelMembersAddDocument, { input: { channelId: dm.id, teamMemberIds: [cal.id] } });
    expect(intoDm.channelMembersAdd.userErrors.map((e) => e.code)).toEqual(['UNSUPPORTED_CHANNEL_KIND']);
  });
});
