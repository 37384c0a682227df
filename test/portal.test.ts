import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { ok } from './support/client';
import { actions } from './support/actions';
import { PortalCursorsDocument, PortalPatientMessagesPageDocument, PortalSearchPageDocument } from './generated/graphql';

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
