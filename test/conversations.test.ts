import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { eventually, ok, request, subscribe } from './support/client';
import { actions, codes } from './support/actions';
import { assertOpenToPatients, openToPatientsSql } from '../src/modules/messages/write-policy';
import { channelState } from '../src/modules/channels/channel-state';
import {
  ChannelActivateDocument,
  ChannelEventsDocument,
  ChannelJoinDocument,
  ChannelsDocument,
  ConversationCloseDocument,
  ConversationReopenDocument,
  ConversationStartDocument,
  ConversationUpdateDocument,
  InboxEventsDocument,
  MessagingSettingsDocument,
  MessagingSettingsUpdateDocument,
  MyAbilitiesDocument,
  PatientProfileDocument,
  UnstaffedChannelsDocument,
  type ConversationStartInput,
  type MessagingSettingsUpdateInput,
} from './generated/graphql';

let server: TestServer;
let org: TestOrganisation;
let admin: Person;
let clinician: Person;
let colleague: Person;
let patient: Person;

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN']);
  clinician = await org.addStaff('Dr Conversation');
  colleague = await org.addStaff('Nurse Colleague');
  patient = await org.addPatient('Pat Conversation');
});
afterAll(() => server.close());

const settings = (input: MessagingSettingsUpdateInput, who = admin) => ok(server.url, who.token, MessagingSettingsUpdateDocument, { input });
const start = async (who: Person, input: ConversationStartInput) => (await ok(server.url, who.token, ConversationStartDocument, { input })).conversationStart;
const { send } = actions(() => server);

describe('messaging settings', () => {
  it('start with the documented defaults; staff and services read them; a messaging admin changes only the fields given', async () => {
    const fresh = await createOrganisation(server);
    const reader = await fresh.addStaff('Reader');
    const read = await ok(server.url, reader.token, MessagingSettingsDocument, {});
    expect(read.messagingSettings).toMatchObject({
      staffCanStartConversations: true,
      allStaffCanStartConversations: true,
      patientsCanStartConversations: false,
      newPatientMessageRoleGroup: 'Appointment Reminder Admin',
      patientCanReplyDefault: true,
      patientUploadsAllowed: false,
      patientUploadTypes: ['application/pdf', 'image/jpeg', 'image/png'],
      messagingForAllPatientCategories: true,
      updatedAt: null,
    });
    expect((await ok(server.url, fresh.serviceToken, MessagingSettingsDocument, {})).messagingSettings.staffCanStartConversations).toBe(true);

    const freshAdmin = await fresh.addStaff('Fresh Admin', ['MESSAGING_ADMIN']);
    const changed = await settings({ patientUploadsAllowed: true, newPatientMessageRoleGroup: 'Front Desk' }, freshAdmin);
    expect(changed.messagingSettingsUpdate.userErrors).toEqual([]);
    expect(changed.messagingSettingsUpdate.settings).toMatchObject({ patientUploadsAllowed: true, newPatientMessageRoleGroup: 'Front Desk', staffCanStartConversations: true });
  });

  it('denied: without MESSAGING_ADMIN nothing changes; patients cannot read them; bad input changes nothing', async () => {
    const before = (await ok(server.url, clinician.token, MessagingSettingsDocument, {})).messagingSettings;
    const refused = await settings({ patientsCanStartConversations: true }, clinician);
    expect(codes(refused.messagingSettingsUpdate)).toEqual(['FORBIDDEN']);
    const asPatient = await request(server.url, patient.token, MessagingSettingsDocument, {});
    expect(asPatient.errors?.[0].extensions?.code).toBe('FORBIDDEN');

    const bad = await settings({ patientUploadTypes: ['application/x-msdownload'], allStaffCanStartConversations: false });
    expect(codes(bad.messagingSettingsUpdate)).toEqual(['INVALID_INPUT']);
    const nobody = await settings({ allStaffCanStartConversations: false, conversationStarterTeamMemberIds: [] });
    expect(nobody.messagingSettingsUpdate.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: 'input.conversationStarterTeamMemberIds' });
    // Every setting, and when they were last changed, read back as they were.
    expect((await ok(server.url, clinician.token, MessagingSettingsDocument, {})).messagingSettings).toEqual(before);
  });
});

describe('staff-started conversations', () => {
  it('a titled conversation with its first message: the patient is added automatically with the chosen team members', async () => {
    const started = await start(clinician, { patientId: patient.id, title: 'Your test results', body: 'Hello, your results are in.', recipientTeamMemberIds: [colleague.id] });
    expect(started.userErrors).toEqual([]);
    expect(started.channel).toMatchObject({ kind: 'CONVERSATION', title: 'Your test results', status: 'ACTIVE', patientCanReply: true, patient: { id: patient.id } });
    const memberIds = started.channel!.members.edges.map((edge) => edge.node.teamMember?.id ?? edge.node.patient?.id).sort();
    expect(memberIds).toEqual([clinician.id, colleague.id, patient.id].sort());
    expect(started.message).toMatchObject({ body: 'Hello, your results are in.', author: { __typename: 'TeamMember', id: clinician.id } });
    expect(codes(await send(patient, started.channel!.id, 'Thank you'))).toEqual([]);
  });

  it('patientCanReply defaults from the settings and can be turned off per conversation: the patient then gets REPLIES_NOT_ALLOWED', async () => {
    await settings({ patientCanReplyDefault: false });
    const quiet = await start(clinician, { patientId: patient.id, title: 'Reminder', body: 'Your appointment is on Monday.' });
    expect(quiet.channel!.patientCanReply).toBe(false);
    expect(codes(await send(patient, quiet.channel!.id, 'Can I reply?'))).toEqual(['REPLIES_NOT_ALLOWED']);
    await settings({ patientCanReplyDefault: true });

    const open = await start(clinician, { patientId: patient.id, title: 'Open', body: 'Reply any time.', patientCanReply: true });
    const turnedOff = await ok(server.url, clinician.token, ConversationUpdateDocument, { input: { channelId: open.channel!.id, patientCanReply: false, title: 'Open (read only)' } });
    expect(turnedOff.conversationUpdate.channel).toMatchObject({ patientCanReply: false, title: 'Open (read only)' });
    expect(codes(await send(patient, open.channel!.id, 'Hello?'))).toEqual(['REPLIES_NOT_ALLOWED']);
    await ok(server.url, clinician.token, ConversationUpdateDocument, { input: { channelId: open.channel!.id, patientCanReply: true } });
    expect(codes(await send(patient, open.channel!.id, 'Hello again'))).toEqual([]);
  });

  it('closing stops patient replies (CHANNEL_CLOSED), staff still write, reopening lets the patient reply again; members are told live', async () => {
    const started = await start(clinician, { patientId: patient.id, title: 'Follow-up', body: 'How are you feeling?' });
    const channelId = started.channel!.id;
    const before = server.deps.live.streamCount;
    const stream = subscribe(server.wsUrl, patient.token, ChannelEventsDocument, { channelId });
    const inbox = subscribe(server.wsUrl, patient.token, InboxEventsDocument, {});
    await eventually(() => server.deps.live.streamCount >= before + 2);
    try {
      const closed = await ok(server.url, clinician.token, ConversationCloseDocument, { input: { channelId } });
      expect(closed.conversationClose.channel).toMatchObject({ status: 'CLOSED' });
      expect(closed.conversationClose.channel!.closedAt).toBeTruthy();
      expect((await stream.next()).data?.channelEvents.type).toBe('CHANNEL_CLOSED');
      expect((await inbox.next()).data?.inboxEvents).toMatchObject({ type: 'CHANNEL_UPDATED', channel: { id: channelId } });

      expect(codes(await send(patient, channelId, 'Wait, one more thing'))).toEqual(['CHANNEL_CLOSED']);
      expect(codes(await send(clinician, channelId, 'Closing note for the record.'))).toEqual([]);
      // Closing twice changes nothing.
      expect((await ok(server.url, clinician.token, ConversationCloseDocument, { input: { channelId } })).conversationClose.userErrors).toEqual([]);

      const reopened = await ok(server.url, clinician.token, ConversationReopenDocument, { input: { channelId } });
      expect(reopened.conversationReopen.channel).toMatchObject({ status: 'ACTIVE', closedAt: null });
      const types: string[] = [];
      while (!types.includes('CHANNEL_UPDATED')) types.push((await stream.next()).data!.channelEvents.type);
      expect(types).toEqual(['MESSAGE_SENT', 'CHANNEL_UPDATED']);
      expect(codes(await send(patient, channelId, 'Thanks for reopening'))).toEqual([]);
    } finally {
      await Promise.all([stream.close(), inbox.close()]);
    }
  });

  it('the condition a one-statement send checks on the locked channel row agrees with the check before it: open allowed; closed and replies-off denied', async () => {
    const open = (await start(clinician, { patientId: patient.id, title: 'Row open', body: 'Hello.', patientCanReply: true })).channel!.id;
    const quiet = (await start(clinician, { patientId: patient.id, title: 'Row quiet', body: 'Hello.', patientCanReply: false })).channel!.id;
    const closed = (await start(clinician, { patientId: patient.id, title: 'Row closed', body: 'Hello.', patientCanReply: true })).channel!.id;
    await ok(server.url, clinician.token, ConversationCloseDocument, { input: { channelId: closed } });
    const db = server.orm.em.fork();
    for (const [channelId, code] of [[open, undefined], [quiet, 'REPLIES_NOT_ALLOWED'], [closed, 'CHANNEL_CLOSED']] as const) {
      const passes = await db.execute(`select 1 from channel where id = ? and ${openToPatientsSql}`, [channelId]);
      expect(passes.length).toBe(code ? 0 : 1);
      const state = (await channelState(db, org.id, channelId))!;
      if (code) expect(() => assertOpenToPatients(state)).toThrow(expect.objectContaining({ code }));
      else expect(() => assertOpenToPatients(state)).not.toThrow();
    }
  });

  it('concurrent closes and reopens apply one after the other: one event per real change', async () => {
    const started = await start(clinician, { patientId: patient.id, title: 'Race', body: 'Closing from two tabs' });
    const channelId = started.channel!.id;
    const before = server.deps.live.streamCount;
    const stream = subscribe(server.wsUrl, clinician.token, ChannelEventsDocument, { channelId });
    await eventually(() => server.deps.live.streamCount > before);
    try {
      const closes = await Promise.all(Array.from({ length: 4 }, () => ok(server.url, clinician.token, ConversationCloseDocument, { input: { channelId } })));
      for (const { conversationClose } of closes) expect(conversationClose).toMatchObject({ userErrors: [], channel: { status: 'CLOSED' } });
      expect((await stream.next()).data?.channelEvents.type).toBe('CHANNEL_CLOSED');
      await stream.expectSilence(300);

      const reopens = await Promise.all(Array.from({ length: 4 }, () => ok(server.url, clinician.token, ConversationReopenDocument, { input: { channelId } })));
      for (const { conversationReopen } of reopens) expect(conversationReopen).toMatchObject({ userErrors: [], channel: { status: 'ACTIVE', closedAt: null } });
      expect((await stream.next()).data?.channelEvents.type).toBe('CHANNEL_UPDATED');
      await stream.expectSilence(300);
      // Open again for the patient.
      expect(codes(await send(patient, channelId, 'Reopened once'))).toEqual([]);
    } finally {
      await stream.close();
    }
  });

  it('two admins saving different settings at once both count', async () => {
    const otherAdmin = await org.addStaff('Second Admin', ['MESSAGING_ADMIN']);
    const saved = await Promise.all([settings({ patientUploadsAllowed: true }, admin), settings({ patientEmailOnStaffReply: false }, otherAdmin)]);
    for (const { messagingSettingsUpdate } of saved) expect(messagingSettingsUpdate.userErrors).toEqual([]);
    const read = await ok(server.url, admin.token, MessagingSettingsDocument, {});
    expect(read.messagingSettings).toMatchObject({ patientUploadsAllowed: true, patientEmailOnStaffReply: false });
    await settings({ patientUploadsAllowed: false, patientEmailOnStaffReply: true });
  });

  it('denied: patients cannot close or reopen; staff who are not in it get NOT_FOUND; other kinds are not conversations', async () => {
    const started = await start(clinician, { patientId: patient.id, title: 'Private', body: 'Only for us.' });
    const channelId = started.channel!.id;
    const byPatient = await request(server.url, patient.token, ConversationCloseDocument, { input: { channelId } });
    expect(byPatient.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const outsider = await org.addStaff('Dr Outsider');
    expect(codes((await ok(server.url, outsider.token, ConversationCloseDocument, { input: { channelId } })).conversationClose)).toEqual(['NOT_FOUND']);
    // A conversation is addressed: other team members can neither find nor join it; a messaging admin can.
    expect((await ok(server.url, outsider.token, ChannelJoinDocument, { input: { channelId } })).channelJoin.userErrors[0].code).toBe('NOT_FOUND');
    expect((await ok(server.url, outsider.token, PatientProfileDocument, { id: patient.id })).patient!.channels.edges.map((edge) => edge.node.id)).not.toContain(channelId);
    expect((await ok(server.url, admin.token, PatientProfileDocument, { id: patient.id })).patient!.channels.edges.map((edge) => edge.node.id)).toContain(channelId);
    expect((await ok(server.url, admin.token, ChannelJoinDocument, { input: { channelId } })).channelJoin.userErrors).toEqual([]);
    expect((await ok(server.url, admin.token, ConversationCloseDocument, { input: { channelId } })).conversationClose.channel?.status).toBe('CLOSED');

    const { channelActivate } = await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } });
    expect(codes((await ok(server.url, clinician.token, ConversationCloseDocument, { input: { channelId: channelActivate.channel!.id } })).conversationClose)).toEqual(['UNSUPPORTED_CHANNEL_KIND']);
  });

  it('denied: NOT_ALLOWED_TO_START when staff may not start conversations, or only selected team members may', async () => {
    await settings({ allStaffCanStartConversations: false, conversationStarterTeamMemberIds: [colleague.id] });
    try {
      expect(codes(await start(clinician, { patientId: patient.id, title: 'Nope', body: 'Not allowed' }))).toEqual(['NOT_ALLOWED_TO_START']);
      expect((await ok(server.url, clinician.token, MyAbilitiesDocument, {})).me).toMatchObject({ canStartConversation: false, canUploadAttachments: true });
      expect(codes(await start(colleague, { patientId: patient.id, title: 'Allowed', body: 'Selected starter' }))).toEqual([]);
      await settings({ staffCanStartConversations: false });
      expect(codes(await start(colleague, { patientId: patient.id, title: 'Nope', body: 'Turned off' }))).toEqual(['NOT_ALLOWED_TO_START']);
    } finally {
      await settings({ staffCanStartConversations: true, allStaffCanStartConversations: true });
    }
  });

  it('bad input changes nothing: empty title, unknown recipient, unknown patient', async () => {
    // A starter and a patient of this test's own: any conversation made would be in their lists.
    const starter = await org.addStaff('Dr Bad Input');
    const recipient = await org.addStaff('Nurse Bad Input');
    const target = await org.addPatient('Bad Input Patient');
    const channels = async (who: Person) => (await ok(server.url, who.token, ChannelsDocument, { first: 50 })).channels.edges.map((edge) => edge.node.id);
    expect((await start(starter, { patientId: target.id, title: '  ', body: 'x', recipientTeamMemberIds: [recipient.id] })).userErrors[0]).toMatchObject({
      code: 'INVALID_INPUT',
      field: 'input.title',
    });
    expect((await start(starter, { patientId: target.id, title: 'T', body: 'x', recipientTeamMemberIds: [recipient.id, target.id] })).userErrors[0]).toMatchObject({
      code: 'NOT_FOUND',
      field: 'input.recipientTeamMemberIds',
    });
    expect(codes(await start(starter, { patientId: starter.id, title: 'T', body: 'x', recipientTeamMemberIds: [recipient.id] }))).toEqual(['NOT_FOUND']);
    expect(await channels(starter)).toEqual([]);
    expect(await channels(recipient)).toEqual([]);
    expect(await channels(target)).toEqual([]);
    // The same input, made valid, does start one (so the lists above would have shown it).
    const valid = await start(starter, { patientId: target.id, title: 'T', body: 'x', recipientTeamMemberIds: [recipient.id] });
    expect(valid.userErrors).toEqual([]);
    for (const who of [starter, recipient, target]) expect(await channels(who)).toEqual([valid.channel!.id]);
  });
});

describe('patient-started conversations', () => {
  it('denied while the settings do not allow it; allowed once they do, with the selected responders added', async () => {
    expect((await ok(server.url, patient.token, MyAbilitiesDocument, {})).me).toMatchObject({ canStartConversation: false, canUploadAttachments: false });
    expect(codes(await start(patient, { title: 'Question', body: 'Can I ask something?' }))).toEqual(['NOT_ALLOWED_TO_START']);

    await settings({ patientsCanStartConversations: true, allStaffRespond: false, responderTeamMemberIds: [colleague.id] });
    try {
      expect((await ok(server.url, patient.token, MyAbilitiesDocument, {})).me).toMatchObject({ canStartConversation: true });
      const started = await start(patient, { title: 'Question', body: 'Can I ask something?' });
      expect(started.userErrors).toEqual([]);
      expect(started.channel).toMatchObject({ kind: 'CONVERSATION', patientCanReply: true, patient: { id: patient.id } });
      expect(started.channel!.members.edges.map((edge) => edge.node.teamMember?.id ?? edge.node.patient?.id).sort()).toEqual([colleague.id, patient.id].sort());
      expect(started.message?.author).toEqual({ __typename: 'Patient', id: patient.id });

      // Patients write to the organisation's responders; they do not pick recipients or other patients.
      expect(codes(await start(patient, { title: 'Q', body: 'x', recipientTeamMemberIds: [clinician.id] }))).toEqual(['INVALID_INPUT']);
      const other = await org.addPatient('Somebody Else');
      expect(codes(await start(patient, { patientId: other.id, title: 'Q', body: 'x' }))).toEqual(['NOT_FOUND']);
    } finally {
      await settings({ patientsCanStartConversations: false, allStaffRespond: true });
    }
  });

  it('when every team member responds, the allocation clinician is added; with none, the conversation is flagged unstaffed for admins', async () => {
    await settings({ patientsCanStartConversations: true, allStaffRespond: true });
    try {
      const allocated = await org.addPatient('Allocated Patient', { allocationClinicianId: clinician.id });
      const withClinician = await start(allocated, { title: 'Hi', body: 'Hello clinic' });
      expect(withClinician.channel!.members.edges.map((edge) => edge.node.teamMember?.id).filter(Boolean)).toEqual([clinician.id]);

      const alone = await org.addPatient('Unallocated Patient');
      const unstaffed = await start(alone, { title: 'Anyone there?', body: 'Hello?' });
      expect(unstaffed.userErrors).toEqual([]);
      const flagged = await ok(server.url, admin.token, UnstaffedChannelsDocument, { first: 50 });
      expect(flagged.unstaffedChannels.edges.map((edge) => edge.node.id)).toContain(unstaffed.channel!.id);
    } finally {
      await settings({ patientsCanStartConversations: false });
    }
  });
});
