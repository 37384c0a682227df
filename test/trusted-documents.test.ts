import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { print } from 'graphql';
import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person } from './support/fixtures';
import { errorCodes, request, subscribe } from './support/client';
import { ChannelEventsDocument, MeDocument, OrganisationCreateDocument, TeamMemberUpsertDocument, TypingDocument } from './generated/graphql';
import { loadConfig } from '../src/config';

/*
 * Trusted documents: a server given a manifest (as GraphQL Code Generator's client preset writes
 * it: key -> document text) runs those operations only, by text or by key, on both transports.
 */
const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const me = print(MeDocument);
const events = print(ChannelEventsDocument);

let server: TestServer;
let staff: Person;
beforeAll(async () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'trusted-'));
  const manifest = path.join(folder, 'persisted-documents.json');
  // Keys as the client preset makes them (sha1 here, to show any key works); the fixtures' own operations too.
  const documents = [me, events, print(OrganisationCreateDocument), print(TeamMemberUpsertDocument)];
  writeFileSync(manifest, JSON.stringify(Object.fromEntries(documents.map((text) => [sha1(text), text]))));
  server = await startTestServer({ TRUSTED_DOCUMENTS: manifest });
  staff = await (await createOrganisation(server)).addStaff('Tru Sted');
});
afterAll(() => server.close());

const post = async (body: unknown) => {
  const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${staff.token}` }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> } };
};

describe('trusted documents', () => {
  it('allowed: an operation of the manifest, sent as its text or as its key alone', async () => {
    expect((await request(server.url, staff.token, MeDocument, {})).data?.me).toMatchObject({ id: staff.id });
    const byKey = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: sha1(me) } } });
    expect(byKey.body.data).toMatchObject({ me: { id: staff.id } });
  });

  it('denied: any other document, a key not in the manifest, or an operation in a GET URL: 400 PERSISTED_QUERY_NOT_FOUND before parsing', async () => {
    for (const body of [{ query: '{ __typename }' }, { query: `${me} ` }, { extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ __typename }') } } }]) {
      const refused = await post(body);
      expect(refused.status).toBe(400);
      expect(refused.body.errors?.map((error) => error.extensions?.code)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    }
    const viaGet = await fetch(`${server.url}?query=${encodeURIComponent(me)}`, { headers: { authorization: `Bearer ${staff.token}`, 'apollo-require-preflight': 'true' } });
    expect(viaGet.status).toBe(400);
  });

  it('over WebSocket: a subscription of the manifest starts; any other is refused with PERSISTED_QUERY_NOT_FOUND', async () => {
    const unknownChannel = '00000000-0000-4000-8000-000000000000';
    const trustedStream = subscribe(server.wsUrl, staff.token, ChannelEventsDocument, { channelId: unknownChannel });
    expect(await trustedStream.endCodes()).toEqual(['NOT_FOUND']);
    const other = subscribe(server.wsUrl, staff.token, TypingDocument, { channelId: unknownChannel });
    expect(await other.endCodes()).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
  });

  it('a manifest that is not a JSON object of document texts stops the server at start, saying why', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'trusted-bad-'));
    const bad = path.join(folder, 'manifest.json');
    writeFileSync(bad, JSON.stringify({ abc: 42 }));
    await expect(startTestServer({ TRUSTED_DOCUMENTS: bad })).rejects.toThrow(/TRUSTED_DOCUMENTS: every value of the manifest is a document text/);
    expect(loadConfig({ TRUSTED_DOCUMENTS: bad, NODE_ENV: 'test' }).trustedDocuments).toBe(bad);
  });
});

it('without a manifest every valid operation runs', async () => {
  const open = await startTestServer();
  try {
    const result = await fetch(open.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(await result.json()).toEqual({ data: { __typename: 'Query' } });
    expect(errorCodes(await request(open.url, undefined, MeDocument, {}))).toEqual(['UNAUTHENTICATED']);
  } finally {
    await open.close();
  }
});
