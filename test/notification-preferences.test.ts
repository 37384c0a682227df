import { randomUUID } from 'node:crypto';
import webpush from 'web-push';
import { startTestServer, type TestServer } from './support/server';
import { errorCodes, ok, request } from './support/client';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { BrowserPushKeys } from './support/notification-sinks';
import {
  NotificationPreferencesDocument,
  NotificationPreferencesUpdateDocument,
  NotificationSettingsUpdateDocument,
  NotificationTemplateResetDocument,
  NotificationTemplatesDocument,
  NotificationTemplateUpdateDocument,
  PushSubscriptionRegisterDocument,
  PushSubscriptionRemoveDocument,
  WebPushPublicKeyDocument,
  type NotificationTemplateUpdateInput,
} from './generated/graphql';

/** The notification API: preferences, devices, templates and settings (no worker runs here). */
let server: TestServer;
let org: TestOrganisation;
let admin: Person;
let clinician: Person;
let patient: Person;
let guardian: Person;
let otherPatient: Person;
const vapid = webpush.generateVAPIDKeys();

beforeAll(async () => {
  server = await startTestServer({
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT: 'mailto:ops@clinic.example',
    WEB_PUSH_HOSTS: 'fcm.googleapis.com,.push.services.mozilla.com',
  });
  org = await createOrganisation(server);
  admin = await org.addStaff('Admin', ['MESSAGING_ADMIN']);
  clinician = await org.addStaff('Clinician');
  patient = await org.addPatient('Dependant Patient');
  guardian = await org.addPatient('Guardian Patient', { guardianOfPatientIds: [patient.id] });
  otherPatient = await org.addPatient('Other Patient');
});
afterAll(() => server.close());

const update = (token: string, input: Record<string, unknown>) => ok(server.url, token, NotificationPreferencesUpdateDocument, { input }).then((result) => result.notificationPreferencesUpdate);
const read = (token: string, patientId?: string) => ok(server.url, token, NotificationPreferencesDocument, { patientId }).then((result) => result.notificationPreferences);

describe('notification preferences', () => {
  it("start at the organisation's defaults and change field by field", async () => {
    expect(await read(clinician.token)).toEqual({ email: 'IMMEDIATE', push: true, sms: true, delayMinutes: 15, defaultDelay: true, updatedAt: null });
    expect(await read(otherPatient.token)).toMatchObject({ delayMinutes: 5, defaultDelay: true });

    const changed = await update(clinician.token, { email: 'DIGEST', delayMinutes: 30 });
    expect(changed.userErrors).toEqual([]);
    expect(changed.notificationPreferences).toMatchObject({ email: 'DIGEST', push: true, sms: true, delayMinutes: 30, defaultDelay: false });
    expect((await update(clinician.token, { push: false })).notificationPreferences).toMatchObject({ email: 'DIGEST', push: false, delayMinutes: 30 });
    expect((await update(clinician.token, { defaultDelay: true })).notificationPreferences).toMatchObject({ delayMinutes: 15, defaultDelay: true });
  });

  it('refuse bad input and change nothing', async () => {
    const before = await read(otherPatient.token);
    expect((await update(otherPatient.token, { delayMinutes: 2000, push: false })).userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: 'input.delayMinutes' })]);
    expect((await update(otherPatient.token, { delayMinutes: 10, defaultDelay: true })).userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT' })]);
    expect(await read(otherPatient.token)).toEqual(before);
  });

  it("a patient's may be changed by staff and by their guardian, by nobody else", async () => {
    expect((await update(clinician.token, { patientId: patient.id, sms: false })).notificationPreferences).toMatchObject({ sms: false });
    expect((await update(guardian.token, { patientId: patient.id, email: 'OFF' })).notificationPreferences).toMatchObject({ email: 'OFF', sms: false });
    expect(await read(patient.token)).toMatchObject({ email: 'OFF', sms: false });

    expect((await update(otherPatient.token, { patientId: patient.id, email: 'IMMEDIATE' })).userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND', field: 'input.patientId' })]);
    expect((await update(clinician.token, { patientId: randomUUID(), email: 'IMMEDIATE' })).userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND' })]);
    expect(await read(otherPatient.token, patient.id)).toBeNull();
    expect(await read(patient.token)).toMatchObject({ email: 'OFF' });
  });
});

describe('push devices', () => {
  const browser = new BrowserPushKeys();
  const endpoint = `https://fcm.googleapis.com/fcm/send/${randomUUID()}`;
  const register = (token: string, input: Record<string, unknown>) => ok(server.url, token, PushSubscriptionRegisterDocument, { input }).then((result) => result.pushSubscriptionRegister);

  it('the portal reads the VAPID key and registers a browser; a device moves to whoever registers it last; only its owner removes it', async () => {
    expect((await ok(server.url, patient.token, WebPushPublicKeyDocument)).webPushPublicKey).toBe(vapid.publicKey);
    const first = await register(patient.token, { webPush: { endpoint, p256dh: browser.p256dh, auth: browser.auth } });
    expect(first.pushSubscription).toMatchObject({ kind: 'WEB', platform: null });
    const moved = await register(otherPatient.token, { webPush: { endpoint, p256dh: browser.p256dh, auth: browser.auth } });
    expect(moved.pushSubscription!.id).toBe(first.pushSubscription!.id);
    // Knowing the endpoint is not enough: other keys cannot take the device over.
    const stranger = new BrowserPushKeys();
    expect((await register(patient.token, { webPush: { endpoint, p256dh: stranger.p256dh, auth: stranger.auth } })).userErrors).toEqual([
      expect.objectContaining({ code: 'INVALID_INPUT', field: 'input.webPush.endpoint' }),
    ]);

    const removeBy = (token: string) => ok(server.url, token, PushSubscriptionRemoveDocument, { input: { pushSubscriptionId: first.pushSubscription!.id } });
    expect((await removeBy(patient.token)).pushSubscriptionRemove.userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND' })]);
    expect((await removeBy(otherPatient.token)).pushSubscriptionRemove.pushSubscription).toMatchObject({ kind: 'WEB' });
  });

  it('refuses endpoints outside the push services (the server would POST there), bad keys, and push that is not set up', async () => {
    for (const bad of ['http://169.254.169.254/latest/meta-data', 'https://fcm.googleapis.com.attacker.example/x', 'https://[::1]/x', 'https://10.0.0.1/x', 'https://user:pw@fcm.googleapis.com/x', 'not a url']) {
      expect((await register(patient.token, { webPush: { endpoint: bad, p256dh: browser.p256dh, auth: browser.auth } })).userErrors).toEqual([
        expect.objectContaining({ code: 'INVALID_INPUT', field: 'input.webPush.endpoint' }),
      ]);
    }
    expect((await register(patient.token, { webPush: { endpoint: 'https://updates.push.services.mozilla.com/wpush/v2/abc', p256dh: browser.p256dh, auth: browser.auth } })).userErrors).toEqual([]);
    for (const p256dh of ['short', Buffer.alloc(65, 1).toString('base64url')]) {
      expect((await register(patient.token, { webPush: { endpoint, p256dh, auth: browser.auth } })).userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: 'input.webPush.p256dh' })]);
    }
    expect((await register(patient.token, { mobile: { platform: 'IOS', token: 'abc' }, webPush: { endpoint, p256dh: browser.p256dh, auth: browser.auth } })).userErrors).toEqual([
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    ]);
    // No mobile push provider on this server.
    expect((await register(patient.token, { mobile: { platform: 'IOS', token: 'abc' } })).userErrors).toEqual([expect.objectContaining({ code: 'PUSH_NOT_CONFIGURED' })]);
  });
});

describe('notification templates', () => {
  const templateUpdate = (token: string, input: Record<string, unknown>) => ok(server.url, token, NotificationTemplateUpdateDocument, { input: input as NotificationTemplateUpdateInput }).then((result) => result.notificationTemplateUpdate);

  it('messaging admins customise and reset them; the defaults carry a link and no patient data', async () => {
    const templates = (await ok(server.url, admin.token, NotificationTemplatesDocument)).notificationTemplates;
    expect(templates.map((template) => template.kind).sort()).toEqual(
      ['DIGEST_EMAIL', 'NEW_CLINIC_MESSAGE_EMAIL', 'NEW_CLINIC_MESSAGE_PUSH', 'NEW_PATIENT_MESSAGE_EMAIL', 'NEW_PATIENT_MESSAGE_PUSH', 'PATIENT_EMAIL', 'PATIENT_PUSH', 'PATIENT_SMS', 'STAFF_EMAIL', 'STAFF_PUSH', 'WEBHOOK_DISABLED_EMAIL', 'ESCALATION_EMAIL', 'ESCALATION_PUSH'].sort(),
    );
    expect(templates.every((template) => !template.customised)).toBe(true);
    expect(templates.find((template) => template.kind === 'PATIENT_EMAIL')!.text).toContain('{{link}}');

    const saved = await templateUpdate(admin.token, { kind: 'PATIENT_EMAIL', subject: 'News from {{organisation.name}}', text: 'Read: {{link}}', html: '<p><a href="{{link}}">Read</a></p>' });
    expect(saved).toMatchObject({ userErrors: [], notificationTemplate: { kind: 'PATIENT_EMAIL', subject: 'News from {{organisation.name}}', customised: true } });
    const reset = await ok(server.url, admin.token, NotificationTemplateResetDocument, { input: { kind: 'PATIENT_EMAIL' } });
    expect(reset.notificationTemplateReset.notificationTemplate).toMatchObject({ customised: false, subject: 'You have a new message from {{organisation.name}}' });
  });

  it('an email template\'s HTML is kept to a safe subset: no scripts, handlers, javascript: links, frames, styles sheets or remote images', async () => {
    const saved = await templateUpdate(admin.token, {
      kind: 'STAFF_EMAIL',
      subject: 'Unread at {{organisation.name}}',
      text: 'Read: {{link}}',
      html: '<script>alert(1)</script><p onclick="steal()" style="color:red;position:fixed">Hello <a href="javascript:alert(1)">x</a> <a href="{{link}}">Open</a><img src="https://tracker.example/p.gif"><iframe src="https://evil.example"></iframe><style>p{}</style> <strong>now</strong></p>',
    });
    expect(saved.userErrors).toEqual([]);
    expect(saved.notificationTemplate!.html).toBe('<p style="color:red">Hello <a>x</a> <a href="{{link}}">Open</a> <strong>now</strong></p>');
    await ok(server.url, admin.token, NotificationTemplateResetDocument, { input: { kind: 'STAFF_EMAIL' } });
  });

  it('refuses placeholders that could carry health information, parts a transport does not have, and non-admins', async () => {
    for (const [input, field] of [
      [{ kind: 'PATIENT_SMS', text: 'Hi {{patient.firstName}}: {{link}}' }, 'input.text'],
      [{ kind: 'PATIENT_EMAIL', subject: 'About {{channel.title}}', text: '{{link}}' }, 'input.subject'],
      [{ kind: 'PATIENT_SMS', subject: 'A subject', text: '{{link}}' }, 'input.subject'],
      [{ kind: 'STAFF_EMAIL', subject: 'Two\nlines', text: '{{link}}' }, 'input.subject'],
      [{ kind: 'PATIENT_SMS', text: 'x'.repeat(481) }, 'input.text'],
    ] as const) {
      expect((await templateUpdate(admin.token, input)).userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field })]);
    }
    expect((await templateUpdate(clinician.token, { kind: 'PATIENT_SMS', text: '{{link}}' })).userErrors).toEqual([expect.objectContaining({ code: 'FORBIDDEN' })]);
    expect(errorCodes(await request(server.url, clinician.token, NotificationTemplatesDocument))).toEqual(['FORBIDDEN']);
    const templates = (await ok(server.url, admin.token, NotificationTemplatesDocument)).notificationTemplates;
    expect(templates.every((template) => !template.customised)).toBe(true);
  });
});

describe('notification settings', () => {
  it('validates the digest hour, the delays and the portal addresses; an empty address restores the default', async () => {
    const change = (input: Record<string, unknown>) => ok(server.url, admin.token, NotificationSettingsUpdateDocument, { input }).then((result) => result.messagingSettingsUpdate);
    expect((await change({ notificationDigestHour: 24 })).userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: 'input.notificationDigestHour' })]);
    expect((await change({ staffNotificationDelayMinutes: -1 })).userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT' })]);
    expect((await change({ patientPortalUrl: 'javascript:alert(1)' })).userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: 'input.patientPortalUrl' })]);
    const saved = await change({ patientPortalUrl: 'https://portal.clinic.example/', smsNotificationsEnabled: true, notificationDigestHour: 18 });
    expect(saved.settings).toMatchObject({ patientPortalUrl: 'https://portal.clinic.example', smsNotificationsEnabled: true, notificationDigestHour: 18 });
    expect((await change({ patientPortalUrl: '' })).settings).toMatchObject({ patientPortalUrl: null, notificationDigestHour: 18 });
  });
});
