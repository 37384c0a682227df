import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { eventually, ok, subscribe } from './support/client';
import { actions } from './support/actions';
import {
  ChannelByIdDocument,
  ChannelEventsDocument,
  ChannelLeaveDocument,
  ChannelMemberRemoveDocument,
  ChannelMuteDocument,
  ChannelUnmuteDocument,
  InboxEventsDocument,
  ChannelsDocument,
  ConversationStartDocument,
  GroupChannelCreateDocument,
  GuardedMessagesDocument,
  MessagingSettingsUpdateDocument,
  MyAbilitiesDocument,
  PatientProfileDocument,
  PatientUpsertDocument,
  ProfileUpdateDocument,
} from './generated/graphql';

let server: TestServer;
let org: TestOrganisation;
let admin: Person;
let clinician: Person;
let manager: Person;

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN']);
  clinician = await org.addStaff('Dr Preconditions');
  manager = await org.addStaff('Mia Manager', ['MESSAGING_MANAGEMENT']);
});
afterAll(() => server.close());

const { activate, send } = actions(() => server);
const upsert = (externalId: string, input: Record<string, unknown>) => ok(server.url, org.serviceToken, PatientUpsertDocument, { input: { externalId, name: 'Same Name', ...input } });

describe('preconditions for messaging a patient (PATIENT_NOT_MESSAGEABLE)', () => {
  it('staff are told which preconditions fail; each one, once met, lets the message through', async () => {
    const patient = await org.addPatient('Quiet Patient', { email: null, portalAccess: false, messagingEnabled: false });
    const channel = await activate(clinician, patient.id);
    const refused = await send(clinician, channel.id, 'Hello');
    expect(refused.userErrors[0].code).toBe('PATIENT_NOT_MESSAGEABLE');
    expect(refused.userErrors[0].message).toMatch(/messaging is turned off.*no patient portal access/);
    const profile = await ok(server.url, clinician.token, PatientProfileDocument, { id: patient.id });
    expect(profile.patient!.messagingBlockers).toEqual(['MESSAGING_DISABLED', 'NO_PORTAL_ACCESS']);

    await upsert(patient.externalId, { name: 'Quiet Patient', messagingEnabled: true, portalAccess: true });
    expect((await ok(server.url, clinician.token, PatientProfileDocument, { id: patient.id })).patient!.messagingBlockers).toEqual(['NO_CONTACT_DETAILS']);
    expect((await send(clinician, channel.id, 'Hello')).userErrors[0].message).toMatch(/no email address or phone number/);

    await upsert(patient.externalId, { name: 'Quiet Patient', phone: '+44 7700 900123' });
    expect((await send(clinician, channel.id, 'Hello')).userErrors).toEqual([]);
    // Nothing was written by the refused attempts.
    const history = await ok(server.url, clinician.token, GuardedMessagesDocument, { id: channel.id });
    expect(history.channel!.messages.edges.map((edge) => edge.node.body)).toEqual(['Hello']);
  });

  it('messaging is enabled per patient category; patients are refused without being told why; only staff see the blockers', async () => {
    const patient = await org.addPatient('Band B Patient', { category: 'Band B' });
    const channel = await activate(clinician, patient.id);
    await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { messagingForAllPatientCategories: false, messagingPatientCategories: ['Band A'] } });
    try {
      expect((await send(clinician, channel.id, 'Hi')).userErrors[0].message).toMatch(/not enabled for their patient category/);
      const byPatient = await send(patient, channel.id, 'Hi');
      expect(byPatient.userErrors[0].code).toBe('PATIENT_NOT_MESSAGEABLE');
      expect(byPatient.userErrors[0].message).not.toMatch(/category|portal|Band/);
      const started = await ok(server.url, clinician.token, ConversationStartDocument, { input: { patientId: patient.id, title: 'T', body: 'x' } });
      expect(started.conversationStart.userErrors[0].code).toBe('PATIENT_NOT_MESSAGEABLE');
      expect((await ok(server.url, patient.token, PatientProfileDocument, { id: patient.id })).patient).toMatchObject({ messagingBlockers: null, category: null });

      await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { messagingPatientCategories: ['Band A', 'Band B'] } });
      expect((await send(patient, channel.id, 'Hi')).userErrors).toEqual([]);
      expect((await send(clinician, channel.id, 'Hello')).userErrors).toEqual([]);
    } finally {
      await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { messagingForAllPatientCategories: true } });
    }
  });

  it('denied: a patient who cannot be messaged is not added to a group, and is not offered to start a conversation', async () => {
    const unreachable = await org.addPatient('Unreachable Group Patient', { email: null });
    const group = await ok(server.url, manager.token, GroupChannelCreateDocument, { input: { title: 'Education', patientIds: [unreachable.id] } });
    expect(group.groupChannelCreate.userErrors[0]).toMatchObject({ code: 'PATIENT_NOT_MESSAGEABLE', field: 'input.patientIds' });

    const disabled = await org.addPatient('Disabled Patient', { messagingEnabled: false });
    await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { patientsCanStartConversations: true } });
    try {
      expect((await ok(server.url, disabled.token, MyAbilitiesDocument, {})).me).toMatchObject({ canStartConversation: false });
      const started = await ok(server.url, disabled.token, ConversationStartDocument, { input: { title: 'T', body: 'x' } });
      expect(started.conversationStart.userErrors[0].code).toBe('NOT_ALLOWED_TO_START');
    } finally {
      await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { patientsCanStartConversations: false } });
    }
  });

  it('a dependant without portal access or contact details is reachable through a guardian who has both', async () => {
    const child = await org.addPatient('Child Dependant', { email: null, portalAccess: false });
    const channel = await activate(clinician, child.id);
    expect((await send(clinician, channel.id, 'Hello')).userErrors[0].code).toBe('PATIENT_NOT_MESSAGEABLE');
    await org.addPatient('Parent Guardian', { guardianOfPatientIds: [child.id] });
    expect((await send(clinician, channel.id, 'Hello')).userErrors).toEqual([]);
  });
});

describe('guardians', () => {
  it("see their dependant's care-team channel, never the staff channel, and write on the dependant's behalf with clear attribution", async () => {
    const child = await org.addPatient('Charlie Child');
    const careTeam = await activate(clinician, child.id);
    const staffChannel = await activate(clinician, child.id, 'STAFF');
    const guardian = await org.addPatient('Gwen Guardian', { guardianOfPatientIds: [child.id] });

    const listed = await ok(server.url, guardian.token, ChannelsDocument, { first: 10 });
    expect(listed.channels.edges.map((edge) => edge.node.id)).toEqual([careTeam.id]);
    expect((await ok(server.url, guardian.token, ChannelByIdDocument, { id: staffChannel.id })).channel).toBeNull();
    const me = await ok(server.url, guardian.token, MyAbilitiesDocument, {});
    expect(me.me).toMatchObject({ dependants: [{ id: child.id, name: 'Charlie Child' }] });
    const childProfile = await ok(server.url, guardian.token, PatientProfileDocument, { id: child.id });
    expect(childProfile.patient!.channels.edges.map((edge) => edge.node.id)).toEqual([careTeam.id]);

    const written = await send(guardian, careTeam.id, 'Charlie has a fever', { onBehalfOfPatientId: child.id });
    expect(written.userErrors).toEqual([]);
    // Without the field, a guardian's message in a dependant's channel is still on the dependant's behalf.
    expect((await send(guardian, careTeam.id, 'Since yesterday')).userErrors).toEqual([]);
    const history = await ok(server.url, clinician.token, GuardedMessagesDocument, { id: careTeam.id });
    for (const edge of history.channel!.messages.edges) {
      expect(edge.node.author).toMatchObject({ __typename: 'Patient', id: guardian.id, name: 'Gwen Guardian' });
      expect(edge.node.onBehalfOf).toMatchObject({ id: child.id, name: 'Charlie Child' });
    }
  });

  it('denied: a guardian cannot claim to write for someone else, leave, or be removed; losing the link ends their access at once', async () => {
    const child = await org.addPatient('Dana Dependant');
    const stranger = await org.addPatient('Stranger');
    const careTeam = await activate(manager, child.id);
    const guardianExternalId = `guardian-${Date.now()}`;
    const linked = await upsert(guardianExternalId, { name: 'Greg Guardian', email: 'greg@example.com', guardianOfPatientIds: [child.id] });
    const guardian: Person = { id: linked.patientUpsert.patient!.id, externalId: guardianExternalId, token: await server.token({ role: 'patient', org: org.slug, sub: guardianExternalId }) };

    expect((await send(guardian, careTeam.id, 'x', { onBehalfOfPatientId: stranger.id })).userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: 'input.onBehalfOfPatientId' });
    expect((await ok(server.url, guardian.token, ChannelLeaveDocument, { input: { channelId: careTeam.id } })).channelLeave.userErrors[0].code).toBe('PATIENT_CANNOT_LEAVE');
    const members = await ok(server.url, manager.token, ChannelByIdDocument, { id: careTeam.id });
    const guardianMember = members.channel!.members.edges.find((edge) => edge.node.patient?.id === guardian.id)!;
    const removal = await ok(server.url, manager.token, ChannelMemberRemoveDocument, { input: { channelId: careTeam.id, memberId: guardianMember.node.id } });
    expect(removal.channelMemberRemove.userErrors[0].code).toBe('PATIENT_CANNOT_LEAVE');

    const before = server.deps.live.streamCount;
    const stream = subscribe(server.wsUrl, guardian.token, ChannelEventsDocument, { channelId: careTeam.id });
    await eventually(() => server.deps.live.streamCount > before);
    await upsert(guardianExternalId, { name: 'Greg Guardian', guardianOfPatientIds: [] });
    expect((await stream.next()).data?.channelEvents).toMatchObject({ type: 'MEMBER_LEFT', member: { patient: { id: guardian.id } } });
    expect(await stream.endCodes()).toEqual(['ACCESS_REVOKED']);
    expect((await ok(server.url, guardian.token, ChannelByIdDocument, { id: careTeam.id })).channel).toBeNull();
    expect((await send(guardian, careTeam.id, 'still here?')).userErrors[0].code).toBe('NOT_FOUND');
    expect((await ok(server.url, guardian.token, PatientProfileDocument, { id: child.id })).patient).toBeNull();
  });

  it('a guardian is added to channels activated after the link, and can start a conversation for the dependant', async () => {
    const child = await org.addPatient('Eli Dependant');
    const guardian = await org.addPatient('Fay Guardian', { guardianOfPatientIds: [child.id] });
    const service = await activate(clinician, child.id, 'SERVICE_TEAM');
    expect((await ok(server.url, guardian.token, ChannelByIdDocument, { id: service.id })).channel?.id).toBe(service.id);

    await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { patientsCanStartConversations: true } });
    try {
      const started = await ok(server.url, guardian.token, ConversationStartDocument, { input: { patientId: child.id, title: 'Prescription', body: 'Eli needs a refill' } });
      expect(started.conversationStart.userErrors).toEqual([]);
      expect(started.conversationStart.channel!.patient?.id).toBe(child.id);
      expect(started.conversationStart.message).toMatchObject({ author: { id: guardian.id }, onBehalfOf: { id: child.id } });
      // The dependant, when they have access of their own, sees it too.
      expect((await ok(server.url, child.token, ChannelByIdDocument, { id: started.conversationStart.channel!.id })).channel).not.toBeNull();
    } finally {
      await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { patientsCanStartConversations: false } });
    }
  });
});

describe('display names', () => {
  it('a patient sets a display name; other patients in a group see only it, staff see the real name beside it', async () => {
    const shy = await org.addPatient('Harriet Realname');
    const peer = await org.addPatient('Ivan Peer');
    const updated = await ok(server.url, shy.token, ProfileUpdateDocument, { input: { displayName: '  Hattie ' } });
    expect(updated.profileUpdate.patient).toMatchObject({ name: 'Harriet Realname', displayName: 'Hattie' });
    const group = await ok(server.url, manager.token, GroupChannelCreateDocument, { input: { title: 'Peer support', patientIds: [shy.id, peer.id] } });
    const groupId = group.groupChannelCreate.channel!.id;
    await send(shy, groupId, 'Hi all');

    const peerView = await ok(server.url, peer.token, GuardedMessagesDocument, { id: groupId });
    expect(peerView.channel!.messages.edges[0].node.author).toEqual({ __typename: 'Patient', id: shy.id, name: null, displayName: 'Hattie' });
    const staffView = await ok(server.url, manager.token, GuardedMessagesDocument, { id: groupId });
    expect(staffView.channel!.messages.edges[0].node.author).toMatchObject({ name: 'Harriet Realname', displayName: 'Hattie' });

    await ok(server.url, shy.token, ProfileUpdateDocument, { input: { displayName: null } });
    const cleared = await ok(server.url, peer.token, GuardedMessagesDocument, { id: groupId });
    expect(cleared.channel!.messages.edges[0].node.author).toMatchObject({ displayName: 'Patient' });
  });

  it('denied: staff set no display name (they always show their real name); an over-long or empty display name changes nothing', async () => {
    const refused = await ok(server.url, clinician.token, ProfileUpdateDocument, { input: { displayName: 'Doc' } });
    expect(refused.profileUpdate.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: 'input.displayName' })]);
    const patient = await org.addPatient('Jo Named');
    await ok(server.url, patient.token, ProfileUpdateDocument, { input: { displayName: 'Jo' } });
    // Over-long, blank, a text-direction override, a zero-width space, a team member's name.
    for (const displayName of ['x'.repeat(51), '   ', 'Jo\u202Egnp.exe', 'J\u200Bo', 'dr preconditions']) {
      const bad = await ok(server.url, patient.token, ProfileUpdateDocument, { input: { displayName } });
      expect(bad.profileUpdate.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: 'input.displayName' });
    }
    expect((await ok(server.url, patient.token, PatientProfileDocument, { id: patient.id })).patient!.displayName).toBe('Jo');
  });
});

describe('display names that cannot impersonate', () => {
  // One organisation for the table: its clinicians, a role group, and a patient trying names.
  let patient: Person;
  beforeAll(async () => {
    const clinic = await createOrganisation(server);
    await clinic.addStaff('Amelia Hart', [], ['Clinician']);
    await clinic.addStaff('Ace Poe', [], ['Billing']);
    await clinic.addStaff('Dr Ravi Patel', [], ['Clinician']);
    patient = await clinic.addPatient('Pat Tester');
  });
  const setName = (displayName: string) => ok(server.url, patient.token, ProfileUpdateDocument, { input: { displayName } });

  it.each([
    ['a plain name', 'Hattie', 'Hattie'],
    ['accents', 'José García', 'José García'],
    ['a diaeresis and an apostrophe', 'Zoë O’Neil-Smith', 'Zoë O’Neil-Smith'],
    ['Cyrillic throughout', 'Иван Петров', 'Иван Петров'],
    ['Greek throughout', 'Νίκος', 'Νίκος'],
    ['CJK', '山田 太郎', '山田 太郎'],
    ['full-width letters (stored NFKC)', 'Ｈａｔｔｉｅ', 'Hattie'],
    ['a no-break space (stored as a space)', 'Hattie\u00a0Smith', 'Hattie Smith'],
    ['a first name shared with a clinician', 'Amelia', 'Amelia'],
    ['a last name shared with a clinician', 'Jo Patel', 'Jo Patel'],
    ['a zero-width non-joiner inside a Persian name', 'مهسا\u200cسادات', 'مهسا\u200cسادات'],
  ])('allowed: %s', async (_label, displayName, stored) => {
    const updated = await setName(displayName);
    expect(updated.profileUpdate.userErrors).toEqual([]);
    expect(updated.profileUpdate.patient!.displayName).toBe(stored);
  });

  it.each([
    ['a soft hyphen inside a clinician\'s name', 'Dr Amelia Ha\u00adrt'],
    ['an Arabic letter mark', 'Amelia\u061cHart'],
    ['a Mongolian vowel separator', '\u180eAmelia Hart'],
    ['a combining grapheme joiner', 'Ame\u034flia'],
    ['a Hangul filler', 'Pat \u3164'],
    ['tag characters', 'Pat\u{e0041}\u{e0042}'],
    ['a line separator', 'Amelia\u2028Hart'],
    ['a right-to-left override', 'Jo\u202egnp.exe'],
    ['a Cyrillic А in a Latin word', '\u0410melia Hart'],
    ["a clinician's name", 'Amelia Hart'],
    ["a clinician's name in capitals", 'AMELIA HART'],
    ["a clinician's name with a title after it", 'Amelia Hart MD'],
    ["a clinician's name in Cyrillic lookalikes", '\u0410\u0441\u0435 \u0420\u043e\u0435'],
    ['a capital I for an l', 'AmeIia Hart'],
    ['the title Dr', 'Dr. Smith'],
    ['the title Doctor', 'Doctor Who'],
    ['the title Nurse', 'Nurse Jackie'],
    ['a role group of the clinic', 'Billing'],
    ["a clinician's name without their title", 'Ravi Patel'],
    ["a clinician's name the other way round", 'Hart, Amelia'],
    ["a clinician's name run together", 'AmeliaHart'],
    ["a clinician's initial and last name", 'R. Patel'],
    ['a team of the clinic', 'Care Team'],
  ])('denied: %s', async (_label, displayName) => {
    await setName('Before');
    const refused = await setName(displayName);
    expect(refused.profileUpdate.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: 'input.displayName' })]);
    expect((await ok(server.url, patient.token, PatientProfileDocument, { id: patient.id })).patient!.displayName).toBe('Before');
  });
});

describe('patient profile and per-member mute', () => {
  it("staff see every channel of a patient with their own membership (Activate / Join / Open); another patient sees nothing", async () => {
    const patient = await org.addPatient('Kim Profile');
    const careTeam = await activate(clinician, patient.id);
    const profile = await ok(server.url, manager.token, PatientProfileDocument, { id: patient.id });
    expect(profile.patient!.channels.edges.map((edge) => edge.node)).toEqual([{ id: careTeam.id, kind: 'CARE_TEAM', myMembership: null }]);
    const mine = await ok(server.url, clinician.token, PatientProfileDocument, { id: patient.id });
    expect(mine.patient!.channels.edges[0].node.myMembership).not.toBeNull();
    const other = await org.addPatient('Lee Other');
    expect((await ok(server.url, other.token, PatientProfileDocument, { id: patient.id })).patient).toBeNull();

    // Pages in activation order, without gaps or repeats.
    const service = await activate(clinician, patient.id, 'SERVICE_TEAM');
    const staffOnly = await activate(clinician, patient.id, 'STAFF');
    const first = await ok(server.url, manager.token, PatientProfileDocument, { id: patient.id, first: 2 });
    expect(first.patient!.channels.pageInfo.hasNextPage).toBe(true);
    const rest = await ok(server.url, manager.token, PatientProfileDocument, { id: patient.id, first: 2, after: first.patient!.channels.pageInfo.endCursor });
    expect([...first.patient!.channels.edges, ...rest.patient!.channels.edges].map((edge) => edge.node.id)).toEqual([careTeam.id, service.id, staffOnly.id]);
    expect(rest.patient!.channels.pageInfo.hasNextPage).toBe(false);
  });

  it('a member mutes a channel until a time or until unmuted; it stays in their list; a non-member cannot', async () => {
    const patient = await org.addPatient('Max Mute');
    const channel = await activate(clinician, patient.id);
    const before = server.deps.live.streamCount;
    const otherDevice = subscribe(server.wsUrl, patient.token, InboxEventsDocument, {});
    const staffInbox = subscribe(server.wsUrl, clinician.token, InboxEventsDocument, {});
    await eventually(() => server.deps.live.streamCount >= before + 2);
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const muted = await ok(server.url, patient.token, ChannelMuteDocument, { input: { channelId: channel.id, until } });
    // The member's other devices are told; nobody else is.
    expect((await otherDevice.next()).data?.inboxEvents).toMatchObject({ type: 'CHANNEL_MUTED', channel: { id: channel.id } });
    await staffInbox.expectSilence(300);
    await Promise.all([otherDevice.close(), staffInbox.close()]);
    expect(muted.channelMute.channel!.myMembership).toMatchObject({ muted: true, mutedUntil: until, archived: false });
    const forever = await ok(server.url, patient.token, ChannelMuteDocument, { input: { channelId: channel.id } });
    expect(forever.channelMute.channel!.myMembership).toMatchObject({ muted: true, mutedUntil: null });
    expect((await ok(server.url, patient.token, ChannelsDocument, { first: 10 })).channels.edges.map((edge) => edge.node.id)).toContain(channel.id);
    const unmuted = await ok(server.url, patient.token, ChannelUnmuteDocument, { input: { channelId: channel.id } });
    expect(unmuted.channelUnmute.channel!.myMembership).toMatchObject({ muted: false, mutedUntil: null });

    const past = await ok(server.url, patient.token, ChannelMuteDocument, { input: { channelId: channel.id, until: new Date(Date.now() - 1000).toISOString() } });
    expect(past.channelMute.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: 'input.until' });
    expect((await ok(server.url, manager.token, ChannelMuteDocument, { input: { channelId: channel.id } })).channelMute.userErrors[0].code).toBe('NOT_FOUND');
  });
});
