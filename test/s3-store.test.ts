import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person } from './support/fixtures';
import { ok } from './support/client';
import { AttachmentCreateUploadDocument, ChannelActivateDocument, MessageAttachmentsDocument, SendWithAttachmentsDocument } from './generated/graphql';

/**
 * A stand-in for an S3-compatible service (path-style PutObject, GetObject, DeleteObject), as the
 * tests use local servers for other outside providers: it records what the store asked of it.
 */
function fakeS3(): Promise<{ server: Server; url: string; objects: Map<string, Buffer>; requests: Array<{ method: string; path: string; signed: boolean }> }> {
  const objects = new Map<string, Buffer>();
  const requests: Array<{ method: string; path: string; signed: boolean }> = [];
  const body = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const server = createServer(async (req, res) => {
    const path = new URL(req.url!, 'http://s3').pathname;
    requests.push({ method: req.method!, path, signed: String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256') });
    if (req.method === 'PUT') {
      objects.set(path, await body(req));
      res.writeHead(200, { etag: '"stand-in"' }).end();
    } else if (req.method === 'GET') {
      const object = objects.get(path);
      if (!object) return void res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(object.length) }).end(object);
    } else if (req.method === 'DELETE') {
      objects.delete(path);
      res.writeHead(204).end();
    } else {
      res.writeHead(405).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, objects, requests })));
}

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');
const PDF = Buffer.from('%PDF-1.4\n%%EOF\n');

let s3: Awaited<ReturnType<typeof fakeS3>>;
let server: TestServer;
let clinician: Person;
let channelId: string;

beforeAll(async () => {
  s3 = await fakeS3();
  server = await startTestServer({ FILE_STORE: 's3', S3_BUCKET: 'attachments', S3_ENDPOINT: s3.url, S3_ACCESS_KEY_ID: 'test-key', S3_SECRET_ACCESS_KEY: 'test-secret' });
  const org = await createOrganisation(server);
  clinician = await org.addStaff('Dr Bucket');
  const patient = await org.addPatient('Pat Bucket');
  channelId = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
});
afterAll(async () => {
  await server.close();
  await new Promise((resolve) => s3.server.close(resolve));
});

const origin = () => new URL(server.url).origin;

it('with FILE_STORE=s3, attachment bytes go to the bucket (signed requests) and come back through download URLs', async () => {
  const started = (await ok(server.url, clinician.token, AttachmentCreateUploadDocument, { input: { fileName: 'x.png', contentType: 'image/png', size: PNG.length } })).attachmentCreateUpload;
  expect((await fetch(`${origin()}${started.uploadUrl}`, { method: 'PUT', body: PNG })).status).toBe(200);
  const key = [...s3.objects.keys()].find((path) => path.endsWith(started.attachment!.id))!;
  expect(key).toMatch(/^\/attachments\/[0-9a-f-]{36}\/[0-9a-f-]{36}$/);
  expect(s3.objects.get(key)!.equals(PNG)).toBe(true);
  expect(s3.requests.every((request) => request.signed)).toBe(true);

  const sent = await ok(server.url, clinician.token, SendWithAttachmentsDocument, { input: { channelId, body: 'scan', attachmentIds: [started.attachment!.id] } });
  const read = await ok(server.url, clinician.token, MessageAttachmentsDocument, { id: sent.messageSend.message!.id });
  const downloaded = await fetch(`${origin()}${read.message!.attachments[0].url}`);
  expect(downloaded.status).toBe(200);
  expect(Buffer.from(await downloaded.arrayBuffer()).equals(PNG)).toBe(true);
});

it('with FILE_STORE=s3, a file whose content is not of the declared type is removed from the bucket', async () => {
  const started = (await ok(server.url, clinician.token, AttachmentCreateUploadDocument, { input: { fileName: 'fake.png', contentType: 'image/png', size: PDF.length } })).attachmentCreateUpload;
  expect((await fetch(`${origin()}${started.uploadUrl}`, { method: 'PUT', body: PDF })).status).toBe(415);
  expect([...s3.objects.keys()].some((path) => path.endsWith(started.attachment!.id))).toBe(false);
  expect(s3.requests.some((request) => request.method === 'DELETE' && request.path.endsWith(started.attachment!.id))).toBe(true);
});
