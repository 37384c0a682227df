import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { print } from 'graphql';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { ok } from './support/client';
import { actions } from './support/actions';
import fs from 'node:fs';
import path from 'node:path';
import { buildSchema, parse, validate } from 'graphql';
import { eventually } from './support/client';
import { AttachmentCreateUploadDocument, ChannelEventsDocument, PortalCursorsDocument, PortalMeDocument, PortalPatientMessagesPageDocument, PortalPeopleDocument, PortalReplyDocument, PortalSearchPageDocument, PortalStaffAvatarDocument } from './generated/graphql';

/**
 * What a portal built with Apollo Client relies on beyond the schema: cursors a normalised cache
 * can keep (the same position, the same string), objects that fragments can select without aliases,
 * payloads that are current.
 */
let server: TestServer;
let org: TestOrganisation;
let clinician: Person;

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  clinician = await org.addStaff('Dr Portal');
});
afterAll(() => server.close());

const { activate, post } = actions(() => server);

describe('cursors', () => {
  it('the same position read twice gives the same cursor string in every list, and a message edge’s cursor is the message’s own', async () => {
    const patient = await org.addPatient('Cursor Patient');
    const channel = await activate(clinician, patient);
    for (const body of ['cursor one', 'cursor two', 'cursor three']) await post(clinician, channel.id, body);
    const read = () => ok(server.url, clinician.token, PortalCursorsDocument, { channelId: channel.id, patientId: patient.id });
    const first = await read();
    const second = await read();
    expect(second).toEqual(first);
    const messageLists = [first.channel!.messages.edges, first.messageSearch.edges, first.patientMessages.edges];
    for (const edges of messageLists) {
      expect(edges.length).toBeGreaterThanOrEqual(3);
      for (const edge of edges) expect(edge.cursor).toBe(edge.node.cursor);
    }
  });

  it('denied: cursors are opaque: no timestamp, id or position of the list can be read from them', async () => {
    const patient = await org.addPatient('Opaque Patient');
    const channel = await activate(clinician, patient);
    await post(clinician, channel.id, 'cursor opaque');
    const read = await ok(server.url, clinician.token, PortalCursorsDocument, { channelId: channel.id, patientId: patient.id });
    const cursors = [read.channel!.members.edges, read.channels.edges, read.channel!.messages.edges].flat().map((edge) => edge.cursor);
    expect(cursors.length).toBeGreaterThan(2);
    for (const cursor of cursors) {
      const decoded = Buffer.from(cursor, 'base64url').toString('latin1');
      expect(decoded).not.toMatch(/\d{4}-\d\d-\d\dT|[0-9a-f]{8}-[0-9a-f]{4}-/);
    }
    // A cursor made up by a client (the old readable form) is refused, not followed.
    const forged = Buffer.from(`${new Date().toISOString()}|${channel.id}`).toString('base64url');
    const refused = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${clinician.token}` },
      body: JSON.stringify({ query: 'query($after: String) { channels(first: 1, after: $after) { edges { cursor } } }', variables: { after: forged } }),
    });
    expect(((await refused.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions.code).toBe('CURSOR_INVALID');
  });

  it('search results and a patient’s messages page on from a message’s own cursor, without gaps or repeats', async () => {
    const patient = await org.addPatient('Paging Patient');
    const channel = await activate(clinician, patient);
    const sent: string[] = [];
    for (let index = 1; index <= 5; index += 1) sent.push((await post(clinician, channel.id, `cursor paging ${index}`)).id);
    const walk = async (page: (after: string | null) => Promise<{ ids: string[]; endCursor: string | null; hasNextPage: boolean }>) => {
      const ids: string[] = [];
      let after: string | null = null;
      for (;;) {
        const result = await page(after);
        ids.push(...result.ids);
        if (!result.hasNextPage) return ids;
        after = result.endCursor;
      }
    };
    const searched = await walk(async (after) => {
      const { messageSearch } = await ok(server.url, clinician.token, PortalSearchPageDocument, { after });
      return { ids: messageSearch.edges.map((edge) => edge.node.id), ...messageSearch.pageInfo };
    });
    expect(searched.filter((id) => sent.includes(id))).toEqual([...sent].reverse());
    expect(new Set(searched).size).toBe(searched.length);
    const history = await walk(async (after) => {
      const { patientMessages } = await ok(server.url, clinician.token, PortalPatientMessagesPageDocument, { patientId: patient.id, after });
      return { ids: patientMessages.edges.map((edge) => edge.node.id), ...patientMessages.pageInfo };
    });
    expect(history).toEqual([...sent].reverse());
  });
});

describe('people', () => {
  const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');

  it('one Person fragment selects patients and team members alike, on me, members and authors, without aliases; the same field on both types side by side validates', async () => {
    const patient = await org.addPatient('Persona Patient');
    const channel = await activate(clinician, patient);
    await post(clinician, channel.id, 'from staff');
    await post(patient, channel.id, 'from the patient');
    expect((await ok(server.url, clinician.token, PortalMeDocument, {})).me).toEqual({ __typename: 'TeamMember', id: clinician.id, displayName: 'Dr Portal', fullName: 'Dr Portal', avatarUrl: null });
    expect((await ok(server.url, patient.token, PortalMeDocument, {})).me).toMatchObject({ __typename: 'Patient', id: patient.id, fullName: 'Persona Patient' });
    const people = (await ok(server.url, patient.token, PortalPeopleDocument, { channelId: channel.id })).channel!;
    expect(people.members.edges.map((edge) => edge.node.person?.__typename).sort()).toEqual(['Patient', 'TeamMember']);
    expect(people.messages.edges.map((edge) => edge.node.author)).toEqual([
      expect.objectContaining({ __typename: 'TeamMember', id: clinician.id, fullName: 'Dr Portal' }),
      expect.objectContaining({ __typename: 'Patient', id: patient.id, fullName: 'Persona Patient' }),
    ]);
    // The same field on both types side by side: the shapes agree (fullName), where `name` clashes (deprecated).
    const schema = buildSchema(fs.readFileSync(path.join(__dirname, '..', 'schema.graphql'), 'utf8'));
    expect(validate(schema, parse('{ me { ... on Patient { fullName avatarUrl } ... on TeamMember { fullName avatarUrl } } }'))).toEqual([]);
    expect(validate(schema, parse('{ me { ... on Patient { name } ... on TeamMember { name } } }')).map((error) => error.message)).toEqual([expect.stringContaining('conflict')]);
  });

  it('a team member sets their own avatar (an image uploaded as AVATAR) and patients see it; another team member’s upload is refused', async () => {
    const patient = await org.addPatient('Avatar Viewer');
    const channel = await activate(clinician, patient);
    await post(clinician, channel.id, 'hello');
    const upload = async (who: Person) => {
      const created = (await ok(server.url, who.token, AttachmentCreateUploadDocument, { input: { fileName: 'me.png', contentType: 'image/png', size: PNG.length, purpose: 'AVATAR' } })).attachmentCreateUpload;
      expect(created.userErrors).toEqual([]);
      expect((await fetch(`${new URL(server.url).origin}${created.uploadUrl}`, { method: 'PUT', body: PNG })).status).toBe(200);
      return created.attachment!.id;
    };
    const colleague = await org.addStaff('Dr Colleague');
    const theirs = await upload(colleague);
    const refused = (await ok(server.url, clinician.token, PortalStaffAvatarDocument, { input: { avatarAttachmentId: theirs } })).profileUpdate;
    expect(refused.userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND', field: 'input.avatarAttachmentId' })]);
    const updated = (await ok(server.url, clinician.token, PortalStaffAvatarDocument, { input: { avatarAttachmentId: await upload(clinician) } })).profileUpdate;
    expect(updated).toMatchObject({ userErrors: [], patient: null, teamMember: { id: clinician.id, avatarUrl: expect.any(String) } });
    const seen = (await ok(server.url, patient.token, PortalPeopleDocument, { channelId: channel.id })).channel!;
    const author = seen.messages.edges.map((edge) => edge.node.author).find((person) => person?.__typename === 'TeamMember');
    const image = await fetch(`${new URL(server.url).origin}${author!.avatarUrl}`);
    expect(Buffer.from(await image.arrayBuffer()).equals(PNG)).toBe(true);
  });
});

describe('payloads', () => {
  it('a payload shows related objects as they are after the change: a reply’s parent counts it, the channel’s last message is the new one', async () => {
    const patient = await org.addPatient('Payload Patient');
    const channel = await activate(clinician, patient);
    const first = await post(clinician, channel.id, 'first');
    const reply = (await ok(server.url, clinician.token, PortalReplyDocument, { input: { channelId: channel.id, body: 'a reply', parentMessageId: first.id } })).messageSend;
    expect(reply.userErrors).toEqual([]);
    expect(reply.message!.parent).toEqual({ id: first.id, replyCount: 1 });
    const next = (await ok(server.url, clinician.token, PortalReplyDocument, { input: { channelId: channel.id, body: 'top level' } })).messageSend;
    expect(next.message!.channel.lastMessage).toEqual({ id: next.message!.id });
  });
});

describe('token refresh on a socket', () => {
  const tokenFor = (who: Person, seconds: number) =>
    new SignJWT({ role: 'staff', org: org.slug, sub: who.externalId })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));

  it('an expiring token: graphql-ws reconnects by itself with a fresh one from connectionParams and resumes from the last cursor, losing and repeating nothing', async () => {
    const patient = await org.addPatient('Refresh Patient');
    const channel = await activate(clinician, patient);
    const anchor = await post(clinician, channel.id, 'anchor');
    let connections = 0;
    const client = createClient({
      url: server.wsUrl,
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 5,
      retryWait: () => new Promise((resolve) => setTimeout(resolve, 50)),
      // The first token lives two seconds; each reconnection asks for a fresh one.
      connectionParams: async () => ({ authorization: `Bearer ${await tokenFor(clinician, (connections += 1) === 1 ? 2 : 3600)}` }),
    });
    // The payload is sent again on every reconnection: its `after` follows the events as they come.
    const payload = { query: print(ChannelEventsDocument), variables: { channelId: channel.id, after: anchor.cursor } };
    const bodies: string[] = [];
    const failures: unknown[] = [];
    client.subscribe<{ channelEvents: { cursor: string; message?: { body: string } | null } }>(payload, {
      next: ({ data }) => {
        if (data?.channelEvents.message) bodies.push(data.channelEvents.message.body);
        if (data) payload.variables.after = data.channelEvents.cursor;
      },
      error: (error) => failures.push(error),
      complete: () => undefined,
    });
    try {
      await eventually(() => server.deps.live.streamCount > 0 && connections === 1);
      await post(clinician, channel.id, 'before expiry');
      await eventually(() => bodies.length === 1);
      await eventually(() => connections === 2, 6_000);
      await post(clinician, channel.id, 'after the refresh');
      await eventually(() => bodies.length === 2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(bodies).toEqual(['before expiry', 'after the refresh']);
      expect(failures).toEqual([]);
    } finally {
      await client.dispose();
    }
  });
});
