import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import webpush from 'web-push';
import { startTestServer, type TestServer } from './support/server';
import { eventually, ok } from './support/client';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { actions } from './support/actions';
import { BrowserPushKeys, HttpSink, SmtpSink } from './support/notification-sinks';
import { seedDemo, DEMO_SLUG } from '../src/db/seed';
import {
  ChannelActivateDocument,
  ChannelArchiveDocument,
  ChannelJoinDocument,
  ChannelMarkReadDocument,
  ChannelMuteDocument,
  ChannelUnarchiveDocument,
  ChannelUnmuteDocument,
  ConversationStartDocument,
  TeamMemberArchiveDocument,
  MessageSendDocument,
  MessagingSettingsUpdateDocument,
  NotificationPreferencesUpdateDocument,
  NotificationSettingsUpdateDocument,
  NotificationTemplateUpdateDocument,
  PushSubscriptionRegisterDocument,
} from './generated/graphql';

/**
 * The notification worker against a real SMTP server and local stand-ins for the push services
 * and the SMS provider. Time passing (a delay, the digest hour) is simulated by making waiting
 * notices due now.
 */
const smtp = new SmtpSink();
const provider = new HttpSink();
const vapid = webpush.generateVAPIDKeys();
let server: TestServer;
let overrides: Record<string, string>;

const STAFF_PORTAL = 'https://clinic.example/portal';
const PATIENT_PORTAL = 'https://patients.example';

beforeAll(async () => {
  await smtp.start();
  await provider.start();
  overrides = {
    NOTIFICATION_WORKER: 'true',
    NOTIFICATION_POLL_MS: '50',
    NOTIFICATION_RETRY_MS: '200',
    ESCALATION_POLL_MS: '50',
    SMTP_URL: smtp.url,
    STAFF_PORTAL_URL: STAFF_PORTAL,
    PATIENT_PORTAL_URL: PATIENT_PORTAL,
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT: 'mailto:ops@clinic.example',
    WEB_PUSH_HOSTS: '127.0.0.1',
    MOBILE_PUSH_URL: provider.url('/mobile'),
    MOBILE_PUSH_TOKEN: 'mobile-provider-token',
    SMS_URL: provider.url('/sms'),
    SMS_USERNAME: 'AC-test',
    SMS_PASSWORD: 'sms-secret',
    SMS_FROM: '+15550000000',
  };
  server = await startTestServer(overrides);
});
afterAll(async () => {
  await server.close();
  await smtp.stop();
  await provider.stop();
});

const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []) => server.orm.em.fork().execute<T[]>(query, params);
const staffAddress = (person: Person) => `${person.externalId}@clinic.example`;

/** Nothing of the organisation waits in the outbox, and no notice of it is due or on its way. */
async function settled(organisationId: string): Promise<void> {
  await eventually(async () => {
    const [{ n }] = await sql<{ n: string }>(
      `select (select count(*) from notification_outbox where organisation_id = ?)
            + (select count(*) from notification where organisation_id = ? and (status = 'SENDING' or (status = 'PENDING' and due_at <= now()))) as n`,
      [organisationId, organisationId],
    );
    return Number(n) === 0;
  }, 15_000);
}

/** The clock moves past every delay: waiting notices become due. */
async function timePasses(organisationId: string): Promise<void> {
  await settled(organisationId); // planned first
  await sql(`update notification set due_at = now() where organisation_id = ? and status = 'PENDING'`, [organisationId]);
  await settled(organisationId);
}

type NoticeRow = { kind: string; transport: string; team_member_id: string | null; patient_id: string | null; status: string; reason: string | null };
const noticesOf = (organisationId: string, personId: string) =>
  sql<NoticeRow>(`select kind, transport, team_member_id, patient_id, status, reason from notification where organisation_id = ? and coalesce(team_member_id, patient_id) = ? order by created_at`, [
    organisationId,
    personId,
  ]);

interface Clinic {
  org: TestOrganisation;
  admin: Person;
  clinician: Person;
  patient: Person;
  patientEmail: string;
  channelId: string;
}

async function clinic(settings: Record<string, unknown> = {}): Promise<Clinic> {
  const org = await createOrganisation(server);
  const admin = await org.addStaff('Admin Person', ['MESSAGING_ADMIN']);
  const updated = await ok(server.url, admin.token, NotificationSettingsUpdateDocument, {
    input: { staffNotificationDelayMinutes: 0, patientNotificationDelayMinutes: 0, smsNotificationsEnabled: true, ...settings },
  });
  expect(updated.messagingSettingsUpdate.userErrors).toEqual([]);
  const clinician = await org.addStaff('Amelia Hart');
  const patientEmail = `zq-${randomUUID().slice(0, 8)}@patients.example`;
  const patient = await org.addPatient('Zebulon Quixote', { email: patientEmail, phone: '+15550001234' });
  const channelId = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
  return { org, admin, clinician, patient, patientEmail, channelId };
}

// `server` is restarted by some tests: the actions follow it.
const { post } = actions(() => server);

const join = async (person: Person, channelId: string) => expect((await ok(server.url, person.token, ChannelJoinDocument, { input: { channelId } })).channelJoin.userErrors).toEqual([]);

const preferences = async (token: string, input: Record<string, unknown>) =>
  expect((await ok(server.url, token, NotificationPreferencesUpdateDocument, { input })).notificationPreferencesUpdate.userErrors).toEqual([]);

describe('who is told of a message', () => {
  it('staff, the role group and the patient are told on every transport, and no notice carries a name, a message or a title', async () => {
    const c = await clinic();
    const reception = await c.org.addStaff('Reception Desk', [], ['Appointment Reminder Admin']);
    const browser = new BrowserPushKeys();
    const pushPath = `/push/${randomUUID()}`;
    const mobileToken = `device-${randomUUID()}`;
    const web = await ok(server.url, c.patient.token, PushSubscriptionRegisterDocument, {
      input: { webPush: { endpoint: provider.url(pushPath), p256dh: browser.p256dh, auth: browser.auth } },
    });
    expect(web.pushSubscriptionRegister.userErrors).toEqual([]);
    const mobile = await ok(server.url, c.patient.token, PushSubscriptionRegisterDocument, { input: { mobile: { platform: 'IOS', token: mobileToken } } });
    expect(mobile.pushSubscriptionRegister.pushSubscription).toMatchObject({ kind: 'MOBILE', platform: 'IOS' });

    await post(c.patient.token, c.channelId, 'Is my HIV test result back? Zebulon Quixote');
    await settled(c.org.id);
    await post(c.clinician.token, c.channelId, 'Zebulon, your HIV test result is in. Amelia Hart');
    const conversation = await ok(server.url, c.clinician.token, ConversationStartDocument, {
      input: { patientId: c.patient.id, title: 'HIV results follow-up', body: 'Dear Zebulon Quixote, about your HIV test result', recipientTeamMemberIds: [] },
    });
    expect(conversation.conversationStart.userErrors).toEqual([]);
    await settled(c.org.id);

    const toClinician = smtp.to(staffAddress(c.clinician));
    expect(toClinician).toHaveLength(1);
    expect(toClinician[0].text).toContain(`${STAFF_PORTAL}/channels/${c.channelId}`);
    const toReception = smtp.to(staffAddress(reception));
    expect(toReception).toHaveLength(1);
    expect(toReception[0].subject).toContain('waiting for a reply');
    const toPatient = smtp.to(c.patientEmail);
    expect(toPatient).toHaveLength(2);
    expect(toPatient.map((mail) => mail.text).join('\n')).toContain(`${PATIENT_PORTAL}/channels/${c.channelId}`);
    const pushes = provider.at(pushPath).map((request) => browser.decrypt(request.body));
    expect(pushes).toHaveLength(2);
    expect(pushes[0]).toMatchObject({ title: expect.stringContaining('Test t-'), url: expect.stringContaining(PATIENT_PORTAL) });
    const mobiles = provider.at('/mobile').filter((request) => request.body.toString().includes(mobileToken));
    expect(mobiles).toHaveLength(2);
    expect(mobiles[0].headers.authorization).toBe('Bearer mobile-provider-token');
    const texts = provider.at('/sms').filter((request) => new URLSearchParams(request.body.toString()).get('To') === '+15550001234');
    expect(texts).toHaveLength(2);
    expect(texts[0].headers.authorization).toBe(`Basic ${Buffer.from('AC-test:sms-secret').toString('base64')}`);
    expect(new URLSearchParams(texts[0].body.toString()).get('Body')).toContain(PATIENT_PORTAL);

    const everything = [
      ...[...toClinician, ...toReception, ...toPatient].flatMap((mail) => [mail.raw, mail.subject, mail.text, mail.html]),
      ...pushes.map((push) => JSON.stringify(push)),
      ...mobiles.map((request) => request.body.toString()),
      ...texts.map((request) => decodeURIComponent(request.body.toString().replace(/\+/g, ' '))),
    ].join('\n').toLowerCase();
    for (const word of ['zebulon', 'quixote', 'hiv', 'test result', 'amelia', 'hart', 'follow-up']) expect(everything).not.toContain(word);
  });

  it("tells a dependant's guardian, and never the dependant of what their guardian wrote for them", async () => {
    const c = await clinic();
    const guardianEmail = `g-${randomUUID().slice(0, 8)}@patients.example`;
    const guardian = await c.org.addPatient('Guardian Parent', { email: guardianEmail, guardianOfPatientIds: [c.patient.id] });
    await post(c.clinician.token, c.channelId, 'For the family');
    await settled(c.org.id);
    expect(smtp.to(guardianEmail)).toHaveLength(1);
    expect(smtp.to(guardianEmail)[0].text).toContain(`${PATIENT_PORTAL}/channels/${c.channelId}`);
    expect(smtp.to(c.patientEmail)).toHaveLength(1);

    await post(guardian.token, c.channelId, 'Written for my child', { onBehalfOfPatientId: c.patient.id });
    await settled(c.org.id);
    expect(smtp.to(c.patientEmail)).toHaveLength(1);
    expect(smtp.to(staffAddress(c.clinician))).toHaveLength(1);
  });

  it('never tells the author, and never tells a patient of an internal note', async () => {
    const c = await clinic();
    const colleague = await c.org.addStaff('Colleague');
    await join(colleague, c.channelId);
    await post(c.clinician.token, c.channelId, 'Staff only: check the results', { internal: true });
    await settled(c.org.id);
    expect(smtp.to(staffAddress(colleague))).toHaveLength(1);
    expect(await noticesOf(c.org.id, c.clinician.id)).toEqual([]);
    expect(await noticesOf(c.org.id, c.patient.id)).toEqual([]);
  });

  it('tells of a note addressed to a role group only the members in that group (and messaging admins); denied: other staff of the channel', async () => {
    const c = await clinic();
    const biller = await c.org.addStaff('Bea Biller', [], ['Billing']);
    const colleague = await c.org.addStaff('Colleague');
    const admin = await c.org.addStaff('Mia Manager', ['MESSAGING_ADMIN']);
    for (const person of [biller, colleague, admin]) await join(person, c.channelId);
    await post(c.clinician.token, c.channelId, 'Billing: invoice overdue', { internal: true, audienceRoles: ['Billing'] });
    await settled(c.org.id);
    expect(smtp.to(staffAddress(biller))).toHaveLength(1);
    expect(smtp.to(staffAddress(admin))).toHaveLength(1);
    expect(await noticesOf(c.org.id, colleague.id)).toEqual([]);
    expect(await noticesOf(c.org.id, c.patient.id)).toEqual([]);
  });

  it('follows preferences: email off, push off, a patient email on staff replies turned off by the organisation', async () => {
    const c = await clinic({ patientEmailOnStaffReply: false });
    const quiet = await c.org.addStaff('Quiet Colleague');
    await join(quiet, c.channelId);
    await preferences(quiet.token, { email: 'OFF' });
    const browser = new BrowserPushKeys();
    const pushPath = `/push/${randomUUID()}`;
    await ok(server.url, c.patient.token, PushSubscriptionRegisterDocument, { input: { webPush: { endpoint: provider.url(pushPath), p256dh: browser.p256dh, auth: browser.auth } } });
    // Staff turn the patient's texts off for them.
    await preferences(c.clinician.token, { patientId: c.patient.id, sms: false });

    await post(c.patient.token, c.channelId, 'Hello');
    await post(c.clinician.token, c.channelId, 'Hello back');
    await settled(c.org.id);
    expect(smtp.to(staffAddress(c.clinician))).toHaveLength(1);
    expect(smtp.to(staffAddress(quiet))).toHaveLength(0);
    expect(smtp.to(c.patientEmail)).toHaveLength(0);
    expect(provider.at(pushPath)).toHaveLength(1);
    expect((await noticesOf(c.org.id, c.patient.id)).map((notice) => notice.transport)).toEqual(['PUSH']);

    // A preference changed while a notice waits is honoured when it comes due.
    await ok(server.url, c.admin.token, NotificationSettingsUpdateDocument, { input: { staffNotificationDelayMinutes: 10 } });
    await post(c.patient.token, c.channelId, 'One more thing');
    await settled(c.org.id);
    await preferences(c.clinician.token, { email: 'OFF' });
    await timePasses(c.org.id);
    expect(smtp.to(staffAddress(c.clinician))).toHaveLength(1);
    expect((await noticesOf(c.org.id, c.clinician.id)).at(-1)).toMatchObject({ status: 'SUPPRESSED', reason: 'PREFERENCE' });
  });

  it('nothing for archived or muted channels, while they are so', async () => {
    const c = await clinic();
    const archiver = await c.org.addStaff('Archiver');
    const muter = await c.org.addStaff('Muter');
    for (const person of [archiver, muter]) await join(person, c.channelId);
    await ok(server.url, archiver.token, ChannelArchiveDocument, { input: { channelId: c.channelId } });
    await ok(server.url, muter.token, ChannelMuteDocument, { input: { channelId: c.channelId } });
    await post(c.patient.token, c.channelId, 'First');
    await settled(c.org.id);
    expect(smtp.to(staffAddress(c.clinician))).toHaveLength(1);
    expect(smtp.to(staffAddress(archiver))).toHaveLength(0);
    expect(smtp.to(staffAddress(muter))).toHaveLength(0);

    await ok(server.url, archiver.token, ChannelUnarchiveDocument, { input: { channelId: c.channelId } });
    await ok(server.url, muter.token, ChannelUnmuteDocument, { input: { channelId: c.channelId } });
    await post(c.patient.token, c.channelId, 'Second');
    await settled(c.org.id);
    expect(smtp.to(staffAddress(archiver))).toHaveLength(1);
    expect(smtp.to(staffAddress(muter))).toHaveLength(1);

    // Archived or muted after the notice was planned, before it is due.
    await ok(server.url, c.admin.token, NotificationSettingsUpdateDocument, { input: { staffNotificationDelayMinutes: 5 } });
    await post(c.patient.token, c.channelId, 'Third');
    await settled(c.org.id);
    await ok(server.url, archiver.token, ChannelArchiveDocument, { input: { channelId: c.channelId } });
    await ok(server.url, muter.token, ChannelMuteDocument, { input: { channelId: c.channelId } });
    await timePasses(c.org.id);
    expect((await noticesOf(c.org.id, archiver.id)).at(-1)).toMatchObject({ status: 'SUPPRESSED', reason: 'ARCHIVED' });
    expect((await noticesOf(c.org.id, muter.id)).at(-1)).toMatchObject({ status: 'SUPPRESSED', reason: 'MUTED' });
    expect(smtp.to(staffAddress(c.clinician))).toHaveLength(3);
  });

  it('nothing for a message read before the delay ends; one notice for a burst of messages', async () => {
    const c = await clinic({ staffNotificationDelayMinutes: 5 });
    const colleague = await c.org.addStaff('Colleague');
    await join(colleague, c.channelId);
    await post(c.patient.token, c.channelId, 'One');
    await post(c.patient.token, c.channelId, 'Two');
    const last = (await post(c.patient.token, c.channelId, 'Three')).id;
    await settled(c.org.id);
    await ok(server.url, c.clinician.token, ChannelMarkReadDocument, { input: { channelId: c.channelId, messageId: last } });
    await timePasses(c.org.id);
    expect(smtp.to(staffAddress(c.clinician))).toHaveLength(0);
    expect(await noticesOf(c.org.id, c.clinician.id)).toEqual([expect.objectContaining({ status: 'SUPPRESSED', reason: 'READ' })]);
    const toColleague = smtp.to(staffAddress(colleague));
    expect(toColleague).toHaveLength(1);
    expect(toColleague[0].text).toContain('You have 3 unread message(s)');
  });
});

describe('the role group and digests', () => {
  it("tells the role group of a patient message nobody read, not once staff read it, and a conversation's responders instead", async () => {
    const c = await clinic({ staffNotificationDelayMinutes: 5 });
    const reception = await c.org.addStaff('Reception', [], ['Appointment Reminder Admin']);
    const unread = (await post(c.patient.token, c.channelId, 'Anyone there?')).id;
    await settled(c.org.id);
    await timePasses(c.org.id);
    expect(smtp.to(staffAddress(reception))).toHaveLength(1);

    const read = (await post(c.patient.token, c.channelId, 'Hello again')).id;
    expect(read).not.toBe(unread);
    await settled(c.org.id);
    await ok(server.url, c.clinician.token, ChannelMarkReadDocument, { input: { channelId: c.channelId, messageId: read } });
    await timePasses(c.org.id);
    expect(smtp.to(staffAddress(reception))).toHaveLength(1);
    expect((await noticesOf(c.org.id, reception.id)).at(-1)).toMatchObject({ kind: 'NEW_PATIENT_MESSAGE', status: 'SUPPRESSED', reason: 'ANSWERED' });

    const responder = await c.org.addStaff('Responder');
    await ok(server.url, c.admin.token, MessagingSettingsUpdateDocument, {
      input: { patientsCanStartConversations: true, allStaffRespond: false, responderTeamMemberIds: [responder.id] },
    });
    const started = await ok(server.url, c.patient.token, ConversationStartDocument, { input: { patientId: c.patient.id, title: 'A question', body: 'Please call me' } });
    expect(started.conversationStart.userErrors).toEqual([]);
    await timePasses(c.org.id);
    expect(smtp.to(staffAddress(responder))).toHaveLength(1);
    expect(smtp.to(staffAddress(reception))).toHaveLength(1);
  });

  it('denied: the role group is not told of a reply in a conversation a team member started (it could not open it); its members are', async () => {
    const c = await clinic({ staffNotificationDelayMinutes: 5 });
    const reception = await c.org.addStaff('Reception', [], ['Appointment Reminder Admin']);
    const started = await ok(server.url, c.clinician.token, ConversationStartDocument, { input: { patientId: c.patient.id, title: 'Your results', body: 'All normal.' } });
    expect(started.conversationStart.userErrors).toEqual([]);
    await post(c.patient.token, started.conversationStart.channel!.id, 'Thank you!');
    await settled(c.org.id);
    await timePasses(c.org.id);
    expect(smtp.to(staffAddress(reception))).toHaveLength(0);
    expect(smtp.to(staffAddress(c.clinician)).length).toBeGreaterThan(0);
  });

  it("a patient's reply in a conversation a team member started, left without staff, tells the messaging admins (who find and join it); denied: the role group", async () => {
    const c = await clinic({ staffNotificationDelayMinutes: 5 });
    const reception = await c.org.addStaff('Reception', [], ['Appointment Reminder Admin']);
    const starter = await c.org.addStaff('Leaving Clinician');
    const started = await ok(server.url, starter.token, ConversationStartDocument, { input: { patientId: c.patient.id, title: 'Your results', body: 'All normal.' } });
    const channelId = started.conversationStart.channel!.id;
    const archived = await ok(server.url, c.org.serviceToken, TeamMemberArchiveDocument, { input: { teamMemberId: starter.id } });
    expect(archived.teamMemberArchive.userErrors).toEqual([]);
    await post(c.patient.token, channelId, 'Thank you! One more question though.');
    await settled(c.org.id);
    await timePasses(c.org.id);
    expect(smtp.to(staffAddress(c.admin))).toHaveLength(1);
    expect((await noticesOf(c.org.id, c.admin.id)).map((notice) => [notice.kind, notice.status])).toContainEqual(['NEW_PATIENT_MESSAGE', 'SENT']);
    expect(smtp.to(staffAddress(reception))).toHaveLength(0);
    expect(smtp.to(staffAddress(c.clinician))).toHaveLength(0);
  });

  it('denied: a new-patient-message notice whose recipient can no longer open the conversation is not sent', async () => {
    const c = await clinic({ staffNotificationDelayMinutes: 5 });
    const first = await c.org.addStaff('First Responder');
    const later = await c.org.addStaff('Later Responder');
    const responders = (ids: string[]) => ok(server.url, c.admin.token, MessagingSettingsUpdateDocument, { input: { patientsCanStartConversations: true, allStaffRespond: false, responderTeamMemberIds: ids } });
    await responders([first.id]);
    const started = await ok(server.url, c.patient.token, ConversationStartDocument, { input: { patientId: c.patient.id, title: 'A question', body: 'Please call me' } });
    const channelId = started.conversationStart.channel!.id;
    // Its first message planned under the first responders, before they change.
    await settled(c.org.id);
    await responders([later.id]);
    await post(c.patient.token, channelId, 'Is anyone there?');
    await settled(c.org.id);
    // The later responder was told; by the time the notice is due they answer patients no more.
    expect((await noticesOf(c.org.id, later.id)).map((notice) => notice.kind)).toContain('NEW_PATIENT_MESSAGE');
    await responders([first.id]);
    await timePasses(c.org.id);
    expect(smtp.to(staffAddress(later))).toHaveLength(0);
    expect((await noticesOf(c.org.id, later.id)).filter((notice) => notice.kind === 'NEW_PATIENT_MESSAGE').every((notice) => notice.status === 'SUPPRESSED' && notice.reason === 'NO_ACCESS')).toBe(true);
  });

  it('a digest collects the day into one email at the digest hour', async () => {
    const c = await clinic({ notificationDigestHour: 7, timeZone: 'Europe/London' });
    await preferences(c.clinician.token, { email: 'DIGEST' });
    await post(c.patient.token, c.channelId, 'One');
    await post(c.patient.token, c.channelId, 'Two');
    await settled(c.org.id);
    const [digest] = await sql<{ kind: string; hour: number; later: boolean }>(
      `select kind, extract(hour from due_at at time zone 'Europe/London')::int as hour, due_at > now() as later from notification where organisation_id = ? and team_member_id = ?`,
      [c.org.id, c.clinician.id],
    );
    expect(digest).toEqual({ kind: 'DIGEST', hour: 7, later: true });
    expect(smtp.to(staffAddress(c.clinician))).toHaveLength(0);
    await timePasses(c.org.id);
    const mails = smtp.to(staffAddress(c.clinician));
    expect(mails).toHaveLength(1);
    expect(mails[0].subject).toContain('daily summary');
    expect(mails[0].text).toContain('You have 2 unread message(s)');
  });

  it("uses the organisation's own template", async () => {
    const c = await clinic();
    const saved = await ok(server.url, c.admin.token, NotificationTemplateUpdateDocument, {
      input: { kind: 'PATIENT_SMS', text: 'New message at {{organisation.name}} ({{count}}): {{link}}' },
    });
    expect(saved.notificationTemplateUpdate.userErrors).toEqual([]);
    await post(c.clinician.token, c.channelId, 'Your appointment is confirmed');
    await settled(c.org.id);
    const text = provider.at('/sms').map((request) => new URLSearchParams(request.body.toString()).get('Body') ?? '').find((body) => body.includes(c.channelId));
    expect(text).toBe(`New message at Test ${c.org.slug} (1): ${PATIENT_PORTAL}/channels/${c.channelId}`);
  });
});

describe('escalation', () => {
  /** The response target passes: the patient's wait is due now (the escalator polls every 50 ms). */
  const targetPasses = (organisationId: string) => sql(`update response_due set due_at = now(), next_at = now() where organisation_id = ?`, [organisationId]);

  it("an overdue patient message emails the channel's team member with no name, message or title; one answered before it goes out is not sent (ANSWERED)", async () => {
    const c = await clinic({ staffNotificationDelayMinutes: 600 });
    const targets = await ok(server.url, c.admin.token, MessagingSettingsUpdateDocument, { input: { routineResponseMinutes: 60, responseTimeBasis: 'WALL_CLOCK' } });
    expect(targets.messagingSettingsUpdate.userErrors).toEqual([]);
    await post(c.patient.token, c.channelId, 'My wound is bleeding again');
    await targetPasses(c.org.id);
    await eventually(() => smtp.to(staffAddress(c.clinician)).length === 1, 10_000);
    const [mail] = smtp.to(staffAddress(c.clinician));
    expect(mail.subject).toContain('Overdue');
    for (const secret of ['bleeding', 'Zebulon', 'Quixote']) expect(`${mail.subject} ${mail.text} ${mail.html}`).not.toContain(secret);
    expect(mail.text).toContain(`${STAFF_PORTAL}/channels/${c.channelId}`);

    // The next one fails to send, the clinician answers, and the retry finds nobody waiting.
    await post(c.clinician.token, c.channelId, 'Apply pressure, we are calling you');
    await post(c.patient.token, c.channelId, 'It is still bleeding');
    await smtp.stop();
    try {
      await targetPasses(c.org.id);
      await eventually(async () => (await noticesOf(c.org.id, c.clinician.id)).some((notice) => notice.kind === 'ESCALATION' && notice.status === 'PENDING' && notice.reason !== null), 10_000);
      await post(c.clinician.token, c.channelId, 'An ambulance is on its way');
    } finally {
      await smtp.start();
    }
    await eventually(async () => (await noticesOf(c.org.id, c.clinician.id)).filter((notice) => notice.kind === 'ESCALATION').at(-1)?.status === 'SUPPRESSED', 10_000);
    expect((await noticesOf(c.org.id, c.clinician.id)).filter((notice) => notice.kind === 'ESCALATION').map((notice) => [notice.status, notice.reason])).toEqual([
      ['SENT', null],
      ['SUPPRESSED', 'ANSWERED'],
    ]);
    expect(smtp.to(staffAddress(c.clinician))).toHaveLength(1);
  });
});

describe('delivery survives failures', () => {
  it('a gone push subscription is forgotten; a broken gateway forgets nothing', async () => {
    const c = await clinic();
    const browser = new BrowserPushKeys();
    const pushPath = `/push/${randomUUID()}`;
    provider.status.set(pushPath, 410);
    await ok(server.url, c.patient.token, PushSubscriptionRegisterDocument, { input: { webPush: { endpoint: provider.url(pushPath), p256dh: browser.p256dh, auth: browser.auth } } });
    await post(c.clinician.token, c.channelId, 'Hello');
    await settled(c.org.id);
    expect(await sql('select id from push_subscription where organisation_id = ? and patient_id = ?', [c.org.id, c.patient.id])).toEqual([]);
    expect(smtp.to(c.patientEmail)).toHaveLength(1);

    // A 404 from the mobile gateway is the gateway's fault, not the device's: the device stays.
    await ok(server.url, c.patient.token, PushSubscriptionRegisterDocument, { input: { mobile: { platform: 'ANDROID', token: `device-${randomUUID()}` } } });
    provider.status.set('/mobile', 404);
    try {
      await post(c.clinician.token, c.channelId, 'Hello again');
      await settled(c.org.id);
    } finally {
      provider.status.delete('/mobile');
    }
    expect(await sql('select kind from push_subscription where organisation_id = ? and patient_id = ?', [c.org.id, c.patient.id])).toEqual([{ kind: 'MOBILE' }]);
  });

  it('SMTP down for a while, then back: every email arrives exactly once', async () => {
    const c = await clinic();
    const colleagues = [await c.org.addStaff('First'), await c.org.addStaff('Second')];
    for (const person of colleagues) await join(person, c.channelId);
    await smtp.stop();
    try {
      await post(c.patient.token, c.channelId, 'Are you there?');
      await eventually(async () => {
        // Each has failed at least once (its reason says so) and been tried again.
        const rows = await sql<{ attempts: number; reason: string | null }>(
          `select attempts, reason from notification where organisation_id = ? and transport = 'EMAIL' and status = 'PENDING'`,
          [c.org.id],
        );
        return rows.length === 3 && rows.every((row) => row.attempts >= 2 && row.reason?.startsWith('SMTP_'));
      }, 15_000);
    } finally {
      await smtp.start();
    }
    await eventually(async () => {
      const rows = await sql<{ status: string }>(`select status from notification where organisation_id = ? and transport = 'EMAIL'`, [c.org.id]);
      return rows.every((row) => row.status === 'SENT');
    }, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const person of [c.clinician, ...colleagues]) expect(smtp.to(staffAddress(person))).toHaveLength(1);
    const rows = await sql<{ status: string; attempts: number }>(`select status, attempts from notification where organisation_id = ? and transport = 'EMAIL'`, [c.org.id]);
    expect(rows).toEqual([1, 2, 3].map(() => ({ status: 'SENT', attempts: expect.any(Number) })));
    expect(Math.min(...rows.map((row) => row.attempts))).toBeGreaterThanOrEqual(2);
  });

  it('notices pending when the server stops are sent after it starts again', async () => {
    const c = await clinic();
    await server.close();
    const withoutWorker = await startTestServer({ ...overrides, NOTIFICATION_WORKER: 'false' });
    try {
      const sent = await ok(withoutWorker.url, c.patient.token, MessageSendDocument, { input: { channelId: c.channelId, body: 'Written while nobody sends' } });
      expect(sent.messageSend.userErrors).toEqual([]);
      const [{ n }] = await withoutWorker.orm.em.fork().execute<Array<{ n: string }>>('select count(*) as n from notification_outbox where organisation_id = ?', [c.org.id]);
      expect(Number(n)).toBe(1);
    } finally {
      await withoutWorker.close();
    }
    server = await startTestServer(overrides);
    await eventually(() => smtp.to(staffAddress(c.clinician)).length === 1, 15_000);
  });
});

describe('without SMTP_URL', () => {
  it('the demo organisation writes mail to the mail folder when a demo patient writes', async () => {
    const mailDir = path.join(os.tmpdir(), `care-messaging-mail-${randomUUID()}`);
    await server.close();
    const { SMTP_URL: _smtp, ...withoutSmtp } = overrides;
    server = await startTestServer({ ...withoutSmtp, MAIL_DIR: mailDir });
    try {
      // The only file that seeds the demo in the run's database (demo.test.ts seeds its own database).
      await seedDemo(server.deps);
      const patient = await server.token({ role: 'patient', org: DEMO_SLUG, sub: 'patient-oliver' });
      const [{ id: channelId }] = await sql<{ id: string }>(
        `select c.id from channel c join organisation o on o.id = c.organisation_id join patient p on p.organisation_id = c.organisation_id and p.id = c.patient_id
          where o.slug = ? and p.external_id = 'patient-oliver' and c.kind = 'CARE_TEAM'`,
        [DEMO_SLUG],
      );
      await post(patient, channelId, 'Hello from the demo');
      const [{ id: organisationId }] = await sql<{ id: string }>('select id from organisation where slug = ?', [DEMO_SLUG]);
      // The demo sends at once; a demo organisation seeded before that setting existed waits its delay.
      await timePasses(organisationId);
      const [{ id: noticeId }] = await sql<{ id: string }>(
        `select n.id from notification n join team_member tm on tm.organisation_id = n.organisation_id and tm.id = n.team_member_id
          where n.organisation_id = ? and n.channel_id = ? and tm.external_id = 'clinician-amelia' and n.transport = 'EMAIL' and n.status = 'SENT'
          order by n.sent_at desc limit 1`,
        [organisationId, channelId],
      );
      const [file] = (await fs.readdir(mailDir)).filter((name) => name.endsWith(`-${noticeId}.eml`));
      const mail = await fs.readFile(path.join(mailDir, file), 'utf8');
      expect(mail).toMatch(/^Subject: /m);
      expect(mail).toMatch(/^To: amelia\.hart@demo\.example$/m);
      expect(mail).not.toContain('Hello from the demo');
    } finally {
      await server.close();
      server = await startTestServer(overrides);
    }
  });
});
