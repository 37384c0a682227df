import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { connectionCloseCode, ok, request } from './support/client';
import { actions } from './support/actions';
import {
  AttachmentCreateUploadDocument,
  ConversationStartDocument,
  MessageEditDocument,
  MessageSearchDocument,
  MessagingSettingsUpdateDocument,
  ReactionAddDocument,
  TypingStartDocument,
} from './generated/graphql';

/*
 * The abuse limits, tight here so a test reaches them: each refused call answers RATE_LIMITED with
 * when to retry (a userError in a mutation's payload, an error of a query) and changes nothing;
 * counters are per person and per organisation (or address), and shared by every server process.
 */
const LIMITS = {
  messageSend: { person: '3/60', organisation: '5/60' },
  conversationStart: { person: '1/3600' },
  uploadTicket: { person: '3/3600' },
  uploadKilobytes: { person: '100/86400' },
  reaction: { person: '2/60' },
  messageEdit: { person: '1/60' },
  typing: { person: '2/60' },
  search: { person: '2/60' },
  socketConnect: { person: '2/60' },
};

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ RATE_LIMITS: JSON.stringify(LIMITS), UPLOAD_MAX_PENDING: '2', TYPING_INTERVAL_MS: '1' });
});
afterAll(() => server.close());

const { send, post, activate } = actions(() => server);

interface Clinic {
  org: TestOrganisation;
  staff: Person;
  patient: Person;
  channelId: string;
}

async function clinic(): Promise<Clinic> {
  const org = await createOrganisation(server);
  const staff = await org.addStaff('Sam Staff');
  const patient = await org.addPatient('Paula Patient');
  const { id: channelId } = await activate(staff, patient);
  return { org, staff, patient, channelId };
}

const rateLimited = (payload: { userErrors: Array<{ code: string; retryAfterSeconds?: number | null }> }) => {
  expect(payload.userErrors).toEqual([expect.objectContaining({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) })]);
  expect(payload.userErrors[0].retryAfterSeconds).toBeGreaterThan(0);
};

describe('abuse limits', () => {
  it('messages: allowed up to the person\'s limit, then RATE_LIMITED with when to retry; nothing is sent; another person goes on until the organisation\'s limit', async () => {
    const c = await clinic();
    for (const body of ['one', 'two', 'three']) await post(c.patient, c.channelId, body);
    const refused = await send(c.patient, c.channelId, 'four');
    rateLimited(refused);
    expect(refused.message).toBeNull();
    // The organisation's counter has 2 left: the team member sends two, then the organisation is at its limit.
    await post(c.staff, c.channelId, 'staff one');
    await post(c.staff, c.channelId, 'staff two');
    const organisationFull = await send(c.staff, c.channelId, 'staff three');
    rateLimited(organisationFull);
    expect(organisationFull.userErrors[0].message).toMatch(/organisation/);
    // Another organisation is not affected.
    const other = await clinic();
    await post(other.patient, other.channelId, 'elsewhere');
  });

  it('conversations, reactions, edits, typing and search each have their own counter', async () => {
    const c = await clinic();
    const admin = await c.org.addStaff('Ada Admin', ['MESSAGING_ADMIN']);
    await ok(server.url, admin.token, MessagingSettingsUpdateDocument, { input: { patientsCanStartConversations: true, allStaffRespond: true } });
    const start = () => ok(server.url, c.patient.token, ConversationStartDocument, { input: { title: 'A question', body: 'Hello' } });
    expect((await start()).conversationStart.userErrors).toEqual([]);
    rateLimited((await start()).conversationStart);

    const message = await post(c.staff, c.channelId, 'React to me');
    const react = (emoji: string) => ok(server.url, c.patient.token, ReactionAddDocument, { input: { messageId: message.id, emoji } });
    expect((await react('👍')).reactionAdd.userErrors).toEqual([]);
    expect((await react('❤️')).reactionAdd.userErrors).toEqual([]);
    rateLimited((await react('🎉')).reactionAdd);

    const edit = (body: string) => ok(server.url, c.staff.token, MessageEditDocument, { input: { messageId: message.id, body } });
    expect((await edit('Edited once')).messageEdit.userErrors).toEqual([]);
    rateLimited((await edit('Edited twice')).messageEdit);

    const typing = () => ok(server.url, c.patient.token, TypingStartDocument, { input: { channelId: c.channelId } });
    expect((await typing()).typingStart.userErrors).toEqual([]);
    expect((await typing()).typingStart.userErrors).toEqual([]);
    rateLimited((await typing()).typingStart);

    // A query: an error with the code and retryAfterSeconds, nothing else.
    const search = () => request(server.url, c.staff.token, MessageSearchDocument, { query: 'react' });
    expect((await search()).errors).toBeUndefined();
    expect((await search()).errors).toBeUndefined();
    const refused = await search();
    expect(refused.errors).toEqual([expect.objectContaining({ extensions: { code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) } })]);
    expect(refused.data?.messageSearch ?? null).toBeNull();
  });

  it('uploads: tickets not yet used are capped, and declared bytes count per day', async () => {
    const c = await clinic();
    const upload = (size: number) => ok(server.url, c.staff.token, AttachmentCreateUploadDocument, { input: { fileName: 'scan.pdf', contentType: 'application/pdf', size } });
    expect((await upload(10_000)).attachmentCreateUpload.userErrors).toEqual([]);
    expect((await upload(10_000)).attachmentCreateUpload.userErrors).toEqual([]);
    // Two tickets unused: a third waits until one is used or expires.
    const pending = (await upload(10_000)).attachmentCreateUpload;
    rateLimited(pending);
    expect(pending.userErrors[0].message).toMatch(/not finished/);

    // Bytes a day count as they arrive: a 200 KB file is over this person's 100 KB, and is not kept.
    const other = await c.org.addStaff('Big Uploader');
    const size = 200 * 1024;
    const big = await ok(server.url, other.token, AttachmentCreateUploadDocument, { input: { fileName: 'scan.pdf', contentType: 'application/pdf', size } });
    expect(big.attachmentCreateUpload.userErrors).toEqual([]);
    const bytes = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(size - 9, 0x20)]);
    const origin = new URL(server.url).origin;
    const response = await fetch(`${origin}${big.attachmentCreateUpload.uploadUrl}`, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/pdf' } });
    expect(response.status).toBe(429);
    expect(await response.json()).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
  });

  it('sockets: a person opens a limited number of connections a minute; the next closes with 1013 (try again later, which clients retry)', async () => {
    const c = await clinic();
    const params = { authorization: `Bearer ${c.patient.token}` };
    expect(await connectionCloseCode(server.wsUrl, params)).toBe(1000);
    expect(await connectionCloseCode(server.wsUrl, params)).toBe(1000);
    expect(await connectionCloseCode(server.wsUrl, params)).toBe(1013);
    // Someone else from the same address is not refused (the address allows far more).
    expect(await connectionCloseCode(server.wsUrl, { authorization: `Bearer ${c.staff.token}` })).toBe(1000);
  });

  it('sockets: failed authentications are counted per address; past the limit the address is refused before its token is checked, and successful connections spend nothing', async () => {
    const strict = await startTestServer({ RATE_LIMITS: JSON.stringify({ socketConnect: { address: '3/60' } }) });
    try {
      const org = await createOrganisation(strict);
      const staff = await org.addStaff('Proxy User');
      const good = { authorization: `Bearer ${staff.token}` };
      // Many people behind one address connect freely.
      for (let index = 0; index < 5; index++) expect(await connectionCloseCode(strict.wsUrl, good)).toBe(1000);
      for (let index = 0; index < 3; index++) expect(await connectionCloseCode(strict.wsUrl, { authorization: 'Bearer not-a-token' })).toBe(4401);
      expect(await connectionCloseCode(strict.wsUrl, good)).toBe(1013);
    } finally {
      await strict.close();
    }
  });

  it('counters are shared by every server process (PostgreSQL store): a limit reached through two servers together', async () => {
    const overrides = { RATE_LIMITS: JSON.stringify(LIMITS), RATE_LIMIT_STORE: 'postgres' };
    const [first, second] = [await startTestServer(overrides), await startTestServer(overrides)];
    try {
      const org = await createOrganisation(first);
      const staff = await org.addStaff('Two Servers');
      const patient = await org.addPatient('Pat Shared');
      const channelId = (await actions(() => first).activate(staff, patient)).id;
      const viaFirst = actions(() => first);
      const viaSecond = actions(() => second);
      await viaFirst.post(patient, channelId, 'one');
      await viaSecond.post(patient, channelId, 'two');
      await viaFirst.post(patient, channelId, 'three');
      rateLimited(await viaSecond.send(patient, channelId, 'four'));
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});
