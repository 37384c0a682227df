import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { print } from 'graphql';
import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { actions } from './support/actions';
import { AttachmentCreateUploadDocument, ChannelByIdDocument, MessageSendDocument } from './generated/graphql';

/**
 * How audit records are written: a change's record in the change's own transaction (no change
 * without its record), reads in batches (group commit) that a graceful shutdown still writes.
 */
let server: TestServer;
let org: TestOrganisation;
let clinician: Person;
let channelId: string;
const db = new PgClient({ connectionString: process.env.DATABASE_URL });
const { activate } = actions(() => server);

beforeAll(async () => {
  await db.connect();
  server = await startTestServer();
  org = await createOrganisation(server);
  clinician = await org.addStaff('Dr Ledger');
  channelId = (await activate(clinician, await org.addPatient('Ledger Patient'))).id;
});
afterAll(async () => {
  await server?.close();
  await db.end();
});

/** POSTs an operation with a client request id of the test's choosing (audited as client_request_id beside the server's own). */
async function post(requestId: string, query: string, variables: Record<string, unknown>, token = clinician.token) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': requestId },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: Record<string, any>; errors?: Array<{ extensions?: { code?: string } }> };
}

const messagesIn = async (id: string) => Number((await db.query('select count(*) as n from message where organisation_id = $1 and channel_id = $2', [org.id, id])).rows[0].n);
const recordsOf = async (requestId: string) => (await db.query('select action, outcome from audit_event where organisation_id = $1 and client_request_id = $2', [org.id, requestId])).rows;

describe('a change is written with its audit record or not at all', () => {
  const probe = `fail-closed-${randomUUID().slice(0, 8)}`;
  beforeAll(async () => {
    // Refuses audit rows of this test's probe requests only (other test files share the database).
    await db.query(`create or replace function audit_probe_refuse() returns trigger language plpgsql as $$
      begin if new.client_request_id like 'fail-closed-%' then raise exception 'audit refused for the probe'; end if; return new; end $$`);
    await db.query('create trigger audit_probe_refuse before insert on audit_event for each row execute function audit_probe_refuse()');
  });
  afterAll(async () => {
    await db.query('drop trigger if exists audit_probe_refuse on audit_event');
    await db.query('drop function if exists audit_probe_refuse()');
  });

  it('denied: when its record cannot be written, messageSend changes nothing and fails', async () => {
    const before = await messagesIn(channelId);
    const answer = await post(probe, print(MessageSendDocument), { input: { channelId, body: 'must not exist without its record' } });
    expect(answer.errors?.map((error) => error.extensions?.code)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(await messagesIn(channelId)).toBe(before);
  });

  it('denied: the same holds for a change outside the event log (an upload ticket: no attachment row without its record)', async () => {
    const count = async () => Number((await db.query('select count(*) as n from attachment where organisation_id = $1', [org.id])).rows[0].n);
    const before = await count();
    const answer = await post(`${probe}-upload`, print(AttachmentCreateUploadDocument), { input: { fileName: 'scan.pdf', contentType: 'application/pdf', size: 1000 } });
    expect(answer.errors?.map((error) => error.extensions?.code)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(await count()).toBe(before);
  });

  it('allowed: with its record written, the message and its record commit together, the record before the answer', async () => {
    const requestId = `committed-${randomUUID().slice(0, 8)}`;
    const answer = await post(requestId, print(MessageSendDocument), { input: { channelId, body: 'on the record' } });
    expect(answer.data?.messageSend.message.id).toBeTruthy();
    // Read straight from the table, at once: not waiting for the batched log.
    expect(await recordsOf(requestId)).toEqual([{ action: 'Mutation.messageSend', outcome: 'ALLOWED' }]);
  });
});

it('the server names each request itself: the id a client sends is kept beside it, never instead of it', async () => {
  const chosen = `chosen-${randomUUID().slice(0, 8)}`;
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${clinician.token}`, 'x-request-id': chosen },
    body: JSON.stringify({ query: print(ChannelByIdDocument), variables: { id: channelId } }),
  });
  const serverId = response.headers.get('x-request-id');
  expect(serverId).toMatch(/^[0-9a-f-]{36}$/);
  await server.deps.auditLog.flush();
  const rows = await db.query('select request_id, client_request_id from audit_event where organisation_id = $1 and request_id = $2', [org.id, serverId]);
  expect(rows.rows).toEqual([{ request_id: serverId, client_request_id: chosen }]);
});

it('reads are recorded in batches, and a graceful shutdown writes what is queued', async () => {
  const requestIds = Array.from({ length: 20 }, (_, index) => `read-${index}-${randomUUID().slice(0, 8)}`);
  await Promise.all(requestIds.map((requestId) => post(requestId, print(ChannelByIdDocument), { id: channelId })));
  await server.close();
  const rows = await db.query('select client_request_id, action, outcome from audit_event where organisation_id = $1 and client_request_id = any($2)', [org.id, requestIds]);
  expect(rows.rows.map((row) => row.client_request_id).sort()).toEqual([...requestIds].sort());
  expect(new Set(rows.rows.map((row) => `${row.action} ${row.outcome}`))).toEqual(new Set(['Query.channel ALLOWED']));
  server = await startTestServer();
});

it('a record that cannot be stored as given (a NUL in an id) is stored cleaned, and the records batched with it are kept', async () => {
  const requestIds = Array.from({ length: 5 }, (_, index) => `batch-${index}-${randomUUID().slice(0, 8)}`);
  const poisoned = `poisoned-${randomUUID().slice(0, 8)}`;
  await Promise.all([
    post(poisoned, print(ChannelByIdDocument), { id: 'x\u0000y' }),
    ...requestIds.map((requestId) => post(requestId, print(ChannelByIdDocument), { id: channelId })),
  ]);
  await server.deps.auditLog.flush();
  const rows = await db.query('select client_request_id, target_id from audit_event where organisation_id = $1 and client_request_id = any($2)', [org.id, [...requestIds, poisoned]]);
  expect(rows.rows.map((row) => row.client_request_id).sort()).toEqual([...requestIds, poisoned].sort());
  expect(rows.rows.find((row) => row.client_request_id === poisoned)?.target_id).toBe('xy');
});
