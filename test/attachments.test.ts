import { existsSync } from 'node:fs';
import path from 'node:path';
import { sweepStaleUploads } from '../src/modules/attachments/attachment-sweeper';
import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { eventually, ok, subscribe } from './support/client';
import { codes } from './support/actions';
import {
  AttachmentEventsDocument,
  GroupChannelCreateDocument,
  AttachmentCreateUploadDocument,
  AvatarUpdateDocument,
  ChannelActivateDocument,
  MessageAttachmentsDocument,
  MessageDeleteDocument,
  MessagingSettingsUpdateDocument,
  PatientAvatarDocument,
  SendWithAttachmentsDocument,
  type AttachmentCreateUploadInput,
} from './generated/graphql';

const MAX_BYTES = 4096;
let server: TestServer;
let org: TestOrganisation;
let admin: Person;
let clinician: Person;
let patient: Person;
let channelId: string;

/** A real 1×1 PNG, and a real (tiny) PDF. */
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');
const PDF = Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');

beforeAll(async () => {
  server = await startTestServer({ ATTACHMENT_MAX_BYTES: String(MAX_BYTES), FILE_URL_TTL_SECONDS: '60' });
  org = await createOrganisation(server);
  admin = await org.addStaff('Ada Admin', ['MESSAGING_ADMIN', 'MESSAGING_MANAGEMENT']);
  clinician = await org.addStaff('Dr Files');
  patient = await org.addPatient('Pat Files');
  channelId = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
});
afterAll(() => server.close());

const origin = () => new URL(server.url).origin;
const createUpload = async (who: Person, input: AttachmentCreateUploadInput) => (await ok(server.url, who.token, AttachmentCreateUploadDocument, { input })).attachmentCreateUpload;
const put = (uploadUrl: string, bytes: Buffer) => fetch(`${origin()}${uploadUrl}`, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
const download = (url: string) => fetch(`${origin()}${url}`);

/** Uploads a file end to end and returns its id. */
async function uploaded(who: Person, fileName: string, contentType: string, bytes: Buffer, purpose?: 'MESSAGE' | 'AVATAR'): Promise<string> {
  const started = await createUpload(who, { fileName, contentType, size: bytes.length, purpose });
  expect(started.userErrors).toEqual([]);
  const response = await put(started.uploadUrl!, bytes);
  expect(response.status).toBe(200);
  return started.attachment!.id;
}

it('a file is uploaded, checked by content, attached to a message, and downloaded by those who can see it', async () => {
  const started = await createUpload(clinician, { fileName: 'scan.png', contentType: 'image/png', size: PNG.length });
  expect(started.attachment).toMatchObject({ fileName: 'scan.png', status: 'PENDING', url: null });
  expect(new Date(started.uploadExpiresAt!).getTime()).toBeGreaterThan(Date.now());
  const response = await put(started.uploadUrl!, PNG);
  expect(response.status).toBe(200);
  expect(await response.json()).toMatchObject({ contentType: 'image/png', size: PNG.length });
  // The same upload URL takes one file only.
  expect((await put(started.uploadUrl!, PNG)).status).toBe(409);

  const sent = await ok(server.url, clinician.token, SendWithAttachmentsDocument, { input: { channelId, body: '', attachmentIds: [started.attachment!.id] } });
  expect(sent.messageSend.userErrors).toEqual([]);
  const messageId = sent.messageSend.message!.id;
  const seen = await ok(server.url, patient.token, MessageAttachmentsDocument, { id: messageId });
  const [file] = seen.message!.attachments;
  expect(file).toMatchObject({ fileName: 'scan.png', contentType: 'image/png', size: PNG.length });
  const fetched = await download(file.url!);
  expect(fetched.status).toBe(200);
  expect(fetched.headers.get('content-type')).toBe('image/png');
  expect(fetched.headers.get('x-content-type-options')).toBe('nosniff');
  expect(Buffer.from(await fetched.arrayBuffer()).equals(PNG)).toBe(true);

  // Deleting the message takes the file with it: no download, and the bytes are gone from the store.
  const stored = path.join(server.deps.config.files.dir, org.id, file.id);
  expect(existsSync(stored)).toBe(true);
  await ok(server.url, clinician.token, MessageDeleteDocument, { input: { messageId } });
  expect((await download(file.url!)).status).toBe(404);
  expect(existsSync(stored)).toBe(false);
  expect((await ok(server.url, patient.token, MessageAttachmentsDocument, { id: messageId })).message!.attachments).toEqual([]);

  // Both downloads are on the audit log as the patient's, the second refused.
  await server.deps.auditLog.flush();
  const recorded = await server.orm.em
    .fork()
    .execute<Array<{ actor_kind: string; actor_id: string; outcome: string; request_id: string }>>(
      "select actor_kind, actor_id, outcome, request_id from audit_event where organisation_id = ? and action = 'File.download' and target_id = ? order by occurred_at",
      [org.id, file.id],
    );
  expect(recorded.map((row) => [row.actor_kind, row.actor_id, row.outcome])).toEqual([
    ['patient', patient.id, 'ALLOWED'],
    ['patient', patient.id, 'DENIED'],
  ]);
  expect(recorded[0].request_id).toBe(fetched.headers.get('x-request-id'));
});

it('live: each subscriber gets a download URL of their own (downloads are audited as its holder\'s), even when the event is executed once for many', async () => {
  const second = await org.addPatient('Sam Second');
  const group = await ok(server.url, admin.token, GroupChannelCreateDocument, { input: { title: 'File group', teamMemberIds: [clinician.id], patientIds: [patient.id, second.id] } });
  const groupId = group.groupChannelCreate.channel!.id;
  const before = server.deps.live.streamCount;
  const streams = [patient, second].map((who) => subscribe(server.wsUrl, who.token, AttachmentEventsDocument, { channelId: groupId }));
  try {
    await eventually(() => server.deps.live.streamCount >= before + 2);
    const started = await createUpload(clinician, { fileName: 'leaflet.png', contentType: 'image/png', size: PNG.length });
    expect((await put(started.uploadUrl!, PNG)).status).toBe(200);
    expect((await ok(server.url, clinician.token, SendWithAttachmentsDocument, { input: { channelId: groupId, body: '', attachmentIds: [started.attachment!.id] } })).messageSend.userErrors).toEqual([]);
    const holders = [];
    for (const stream of streams) {
      const url = (await stream.next()).data!.channelEvents.message!.attachments[0].url!;
      holders.push(server.deps.cursors.decodeFileTicket(url.split('/').pop()!)?.holder);
    }
    expect(holders).toEqual([`patient:${patient.id}`, `patient:${second.id}`]);
  } finally {
    await Promise.all(streams.map((stream) => stream.close()));
  }
});

it('denied: a renamed file whose content is another type, a file over its declared size or the limit; nothing is kept', async () => {
  const renamed = await createUpload(clinician, { fileName: 'report.png', contentType: 'image/png', size: PDF.length });
  const mismatch = await put(renamed.uploadUrl!, PDF);
  expect(mismatch.status).toBe(415);
  expect(await mismatch.json()).toMatchObject({ code: 'FILE_TYPE_MISMATCH' });
  expect(existsSync(path.join(server.deps.config.files.dir, org.id, renamed.attachment!.id))).toBe(false);
  const refused = await ok(server.url, clinician.token, SendWithAttachmentsDocument, { input: { channelId, body: 'see file', attachmentIds: [renamed.attachment!.id] } });
  expect(refused.messageSend.userErrors[0]).toMatchObject({ code: 'NOT_FOUND', field: 'input.attachmentIds' });

  const small = await createUpload(clinician, { fileName: 'a.pdf', contentType: 'application/pdf', size: 10 });
  const tooBig = await put(small.uploadUrl!, PDF);
  expect(tooBig.status).toBe(413);
  const overLimit = await createUpload(clinician, { fileName: 'huge.pdf', contentType: 'application/pdf', size: MAX_BYTES + 1 });
  expect(codes(overLimit)).toEqual(['FILE_TOO_LARGE']);
  const exe = await createUpload(clinician, { fileName: 'tool.exe', contentType: 'application/x-msdownload', size: 10 });
  expect(codes(exe)).toEqual(['UNSUPPORTED_FILE_TYPE']);
  const traversal = await createUpload(clinician, { fileName: '../../etc/passwd', contentType: 'application/pdf', size: 10 });
  expect(traversal.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: 'input.fileName' });
});

it('denied: attaching a file someone else uploaded, or one already sent; forged and expired URLs', async () => {
  const mine = await uploaded(clinician, 'mine.pdf', 'application/pdf', PDF);
  const stolen = await ok(server.url, admin.token, SendWithAttachmentsDocument, { input: { channelId: await adminChannel(), body: 'x', attachmentIds: [mine] } });
  expect(codes(stolen.messageSend)).toEqual(['NOT_FOUND']);
  expect(codes((await ok(server.url, clinician.token, SendWithAttachmentsDocument, { input: { channelId, body: 'first', attachmentIds: [mine] } })).messageSend)).toEqual([]);
  expect(codes((await ok(server.url, clinician.token, SendWithAttachmentsDocument, { input: { channelId, body: 'again', attachmentIds: [mine] } })).messageSend)).toEqual(['NOT_FOUND']);

  expect((await download('/files/download/not-a-ticket')).status).toBe(404);
  expect((await put('/files/upload/not-a-ticket', PDF)).status).toBe(403);
  const started = await createUpload(clinician, { fileName: 'late.pdf', contentType: 'application/pdf', size: PDF.length });
  const ticket = started.uploadUrl!.split('/').pop()!;
  expect(server.deps.cursors.decodeFileTicket(ticket)).toBeDefined();
  expect(server.deps.cursors.decodeFileTicket(ticket, Date.now() + 61_000)).toBeUndefined();
});

it("patients upload only where the organisation's settings allow it, of the types they allow", async () => {
  expect(codes(await createUpload(patient, { fileName: 'photo.png', contentType: 'image/png', size: PNG.length }))).toEqual(['FORBIDDEN']);
  await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { patientUploadsAllowed: true, patientUploadTypes: ['application/pdf'] } });
  try {
    expect(codes(await createUpload(patient, { fileName: 'photo.png', contentType: 'image/png', size: PNG.length }))).toEqual(['UNSUPPORTED_FILE_TYPE']);
    const pdf = await uploaded(patient, 'letter.pdf', 'application/pdf', PDF);
    const sent = await ok(server.url, patient.token, SendWithAttachmentsDocument, { input: { channelId, body: 'My referral letter', attachmentIds: [pdf] } });
    expect(sent.messageSend.message!.attachments).toMatchObject([{ fileName: 'letter.pdf', contentType: 'application/pdf' }]);
  } finally {
    await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { patientUploadsAllowed: false } });
  }
});

it('a patient sets an avatar image that staff can load; a document, or a file uploaded for a message, cannot be an avatar', async () => {
  const avatar = await uploaded(patient, 'me.png', 'image/png', PNG, 'AVATAR');
  const updated = await ok(server.url, patient.token, AvatarUpdateDocument, { input: { avatarAttachmentId: avatar } });
  expect(updated.profileUpdate.userErrors).toEqual([]);
  const staffView = await ok(server.url, clinician.token, PatientAvatarDocument, { id: patient.id });
  const fetched = await download(staffView.patient!.avatarUrl!);
  expect(Buffer.from(await fetched.arrayBuffer()).equals(PNG)).toBe(true);
  expect(codes(await createUpload(patient, { fileName: 'me.pdf', contentType: 'application/pdf', size: PDF.length, purpose: 'AVATAR' }))).toEqual(['UNSUPPORTED_FILE_TYPE']);
  const messageFile = await uploaded(clinician, 'x.png', 'image/png', PNG);
  expect(codes((await ok(server.url, patient.token, AvatarUpdateDocument, { input: { avatarAttachmentId: messageFile } })).profileUpdate)).toEqual(['NOT_FOUND']);
});

async function adminChannel(): Promise<string> {
  const other = await org.addPatient('Admin Channel Patient');
  return (await ok(server.url, admin.token, ChannelActivateDocument, { input: { patientId: other.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
}

it('the sweep removes uploads nobody will use (unfinished, refused, never sent, replaced avatars) and keeps the rest', async () => {
  const sent = await uploaded(clinician, 'kept.pdf', 'application/pdf', PDF);
  await ok(server.url, clinician.token, SendWithAttachmentsDocument, { input: { channelId, body: 'kept', attachmentIds: [sent] } });
  const neverSent = await uploaded(clinician, 'orphan.pdf', 'application/pdf', PDF);
  const unfinished = (await createUpload(clinician, { fileName: 'never.pdf', contentType: 'application/pdf', size: PDF.length })).attachment!.id;
  const oldAvatar = await uploaded(patient, 'old.png', 'image/png', PNG, 'AVATAR');
  const avatar = await uploaded(patient, 'new.png', 'image/png', PNG, 'AVATAR');
  await ok(server.url, patient.token, AvatarUpdateDocument, { input: { avatarAttachmentId: avatar } });
  const fresh = await uploaded(clinician, 'fresh.pdf', 'application/pdf', PDF);
  const all = [sent, neverSent, unfinished, oldAvatar, avatar];
  // Age them past the sweep's threshold; `fresh` stays young.
  await server.deps.orm.em.fork().execute(`update attachment set created_at = now() - interval '2 days' where id = any(?::uuid[])`, [`{${all.join(',')}}`]);

  const swept = await sweepStaleUploads(server.deps.orm, server.deps.files, new Date(Date.now() - 86_400_000));
  expect(swept).toBeGreaterThanOrEqual(3);
  const left = await server.deps.orm.em.fork().execute<Array<{ id: string }>>('select id from attachment where id = any(?::uuid[])', [`{${[...all, fresh].join(',')}}`]);
  expect(left.map((row) => row.id).sort()).toEqual([sent, avatar, fresh].sort());
  const onDisk = (id: string) => existsSync(path.join(server.deps.config.files.dir, org.id, id));
  expect([neverSent, oldAvatar].map(onDisk)).toEqual([false, false]);
  expect([sent, avatar, fresh].map(onDisk)).toEqual([true, true, true]);
});

describe('upload and download URLs expire (a server whose URLs live FILE_URL_TTL_SECONDS=2)', () => {
  const TTL_SECONDS = 2;
  let shortLived: TestServer;
  let staff: Person;
  let reader: Person;
  let shortChannelId: string;
  const at = (relative: string) => `${new URL(shortLived.url).origin}${relative}`;
  const waitUntil = (time: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, time - Date.now())));

  beforeAll(async () => {
    shortLived = await startTestServer({ FILE_URL_TTL_SECONDS: String(TTL_SECONDS) });
    const shortOrg = await createOrganisation(shortLived);
    staff = await shortOrg.addStaff('Dr Short Lived');
    reader = await shortOrg.addPatient('Pat Short Lived');
    shortChannelId = (await ok(shortLived.url, staff.token, ChannelActivateDocument, { input: { patientId: reader.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
  });
  afterAll(() => shortLived?.close());

  const newUpload = async () => {
    const started = (await ok(shortLived.url, staff.token, AttachmentCreateUploadDocument, { input: { fileName: 'scan.png', contentType: 'image/png', size: PNG.length } }))
      .attachmentCreateUpload;
    expect(started.userErrors).toEqual([]);
    return started;
  };
  const putTo = (uploadUrl: string) => fetch(at(uploadUrl), { method: 'PUT', body: PNG, headers: { 'content-type': 'application/octet-stream' } });

  it('an upload URL works within its lifetime and is refused with 403 UPLOAD_URL_INVALID after it', async () => {
    const [used, late] = [await newUpload(), await newUpload()];
    const expiresAt = new Date(late.uploadExpiresAt!).getTime();
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(TTL_SECONDS * 1000);
    expect((await putTo(used.uploadUrl!)).status).toBe(200);

    await waitUntil(expiresAt + 100);
    const refused = await putTo(late.uploadUrl!);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: 'UPLOAD_URL_INVALID' });
  });

  it('a download URL works within its lifetime and answers 404 NOT_FOUND after it; a fresh URL works again', async () => {
    const upload = await newUpload();
    expect((await putTo(upload.uploadUrl!)).status).toBe(200);
    const sent = await ok(shortLived.url, staff.token, SendWithAttachmentsDocument, { input: { channelId: shortChannelId, body: '', attachmentIds: [upload.attachment!.id] } });
    expect(sent.messageSend.userErrors).toEqual([]);
    const messageId = sent.messageSend.message!.id;
    const downloadUrl = async () => {
      const [file] = (await ok(shortLived.url, reader.token, MessageAttachmentsDocument, { id: messageId })).message!.attachments;
      // The URL was made before the answer arrived: it expires at most TTL_SECONDS from now.
      return { url: file.url!, expiresBy: Date.now() + TTL_SECONDS * 1000 };
    };

    const { url, expiresBy } = await downloadUrl();
    const fetched = await fetch(at(url));
    expect(fetched.status).toBe(200);
    expect(Buffer.from(await fetched.arrayBuffer()).equals(PNG)).toBe(true);

    await waitUntil(expiresBy + 100);
    const expired = await fetch(at(url));
    expect(expired.status).toBe(404);
    expect(await expired.json()).toMatchObject({ code: 'NOT_FOUND' });

    // The file is still there: only the URL expired.
    const fresh = await fetch(at((await downloadUrl()).url));
    expect(fresh.status).toBe(200);
    expect(Buffer.from(await fresh.arrayBuffer()).equals(PNG)).toBe(true);
  });
});
