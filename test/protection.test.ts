import { GraphQLError } from 'graphql';
import pino from 'pino';
import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person } from './support/fixtures';
import WebSocket from 'ws';
import { maskError } from '../src/graphql/errors';

let server: TestServer;
let staff: Person;

beforeAll(async () => {
  server = await startTestServer();
  const org = await createOrganisation(server);
  staff = await org.addStaff('Dr Limits');
});
afterAll(() => server.close());

async function post(body: unknown, headers: Record<string, string> = {}, options: { anonymous?: boolean } = {}) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(options.anonymous ? {} : { authorization: `Bearer ${staff.token}` }), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> } };
}

const deepQuery = `{ channels { edges { node { messages { edges { node { channel { messages { edges { node { channel { id } } } } } } } } } } } }`;
const aliasQuery = `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: me { __typename }`).join(' ')} }`;
/** The documents of the abuse report: 30,000 repeated directives, 30,000 unused variables (300 to 540 KB). */
const directiveFlood = `{ __typename ${'@include(if: true) '.repeat(30_000)}}`;
const variableFlood = `query (${Array.from({ length: 30_000 }, (_, i) => `$v${i}: Int`).join(' ')}) { __typename }`;
/** `n` directives, one per sibling inline fragment: each is valid where it stands. */
const directives = (n: number, field = '__typename') => `... @include(if: true) { ${field} } `.repeat(n);

describe('limits on HTTP', () => {
  it('allowed: an ordinary query', async () => {
    expect((await post({ query: '{ me { __typename } }' })).body.data).toEqual({ me: { __typename: 'TeamMember' } });
  });

  it('denied: a query deeper than the limit', async () => {
    const { body } = await post({ query: deepQuery });
    expect(body.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(body.errors?.[0].message).toMatch(/depth/i);
  });

  // A portal's query as codegen and Apollo 4's data masking compose it: six levels of data,
  // reached through three fragments and an inline fragment (refused as "found 11" when they counted).
  const portalQuery = `
    fragment AuthorBits on Author { ... on TeamMember { id name } ... on Patient { id } }
    fragment MessageBits on Message { id body author { ...AuthorBits } }
    fragment ChannelItem on Channel { id kind lastMessage { ...MessageBits } }
    query Portal { channels(first: 5) { edges { node { ...ChannelItem } } } }`;

  it('allowed: a fragment-composed portal query is measured in levels of data, fragments adding none', async () => {
    const { body } = await post({ query: portalQuery });
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ channels: { edges: expect.any(Array) } });
  });

  it('denied: a query over the depth limit gets a message naming the limit, not a "Syntax Error"', async () => {
    const { body } = await post({ query: deepQuery });
    expect(body.errors).toEqual([{ message: 'Query depth limit of 10 exceeded, found 12.', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }]);
  });

  it('denied: too many aliases', async () => {
    const { body } = await post({ query: aliasQuery });
    expect(body.errors?.[0].message).toMatch(/alias/i);
  });

  const pagesQuery = `query Pages($channels: Int, $messages: Int) {
    channels(first: $channels) { edges { node { id messages(first: $messages) { edges { node { id body } } } } } }
  }`;

  it('allowed: nested pages within the cost limit', async () => {
    const { status, body } = await post({ query: pagesQuery, variables: { channels: 20, messages: 20 } });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
  });

  it('denied: nested pages whose sizes multiply past the cost limit, sizes read from variables (even right after the same query with small pages)', async () => {
    const small = await post({ query: pagesQuery, variables: { channels: 2, messages: 2 } });
    expect(small.body.errors ?? []).toEqual([]);
    const { status, body } = await post({ query: pagesQuery, variables: { channels: 100, messages: 100 } });
    expect(status).toBe(400);
    expect(body.errors?.[0]).toMatchObject({ extensions: { code: 'QUERY_TOO_COMPLEX' }, message: expect.stringMatching(/cost/) });
  });

  it('denied: batched requests', async () => {
    const { status, body } = await post([{ query: '{ me { __typename } }' }, { query: '{ me { __typename } }' }]);
    expect(status).toBe(400);
    expect(JSON.stringify(body)).toMatch(/batch/i);
  });

  it('denied: a body larger than the limit (413)', async () => {
    const { status, body } = await post({ query: '{ me { __typename } }', variables: { padding: 'x'.repeat(300_000) } });
    expect(status).toBe(413);
    expect(body.errors?.[0].extensions?.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('denied: a cross-site simple GET request (CSRF prevention)', async () => {
    const response = await fetch(`${server.url}?query=${encodeURIComponent('{ me { __typename } }')}`, { headers: { authorization: `Bearer ${staff.token}` } });
    expect(response.status).toBe(400);
  });

  it('denied before any work, with no token: bodies over the limit unread (30,000 directives, 30,000 variables), longer documents unparsed, or parsing stopped at the token limit', async () => {
    for (const query of [directiveFlood, variableFlood]) {
      const { status, body } = await post({ query }, {}, { anonymous: true });
      expect(status).toBe(413);
      expect(body.errors?.[0].extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    }
    const long = await post({ query: `{ __typename ${'@include(if: true) '.repeat(8_000)}}` }, {}, { anonymous: true });
    expect(long.status).toBe(400);
    expect(long.body.errors).toEqual([expect.objectContaining({ extensions: { code: 'GRAPHQL_PARSE_FAILED' }, message: expect.stringMatching(/longer than 100000 characters/) })]);
    // Short enough, but 6,000 fields: parsing stops at the token limit.
    const { status, body } = await post({ query: `{ ${'__typename '.repeat(6_000)}}` }, {}, { anonymous: true });
    expect(status).toBe(400);
    expect(body.errors).toEqual([expect.objectContaining({ extensions: { code: 'GRAPHQL_PARSE_FAILED' }, message: expect.stringMatching(/5000 tokens/) })]);
  });

  it('allowed: directives up to the limit; denied: more (a clear validation error)', async () => {
    expect((await post({ query: `{ ${directives(50)} }` })).body).toEqual({ data: { __typename: 'Query' } });
    const { status, body } = await post({ query: `{ ${directives(51)} }` });
    expect(status).toBe(400);
    expect(body.errors?.[0]).toMatchObject({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' }, message: expect.stringMatching(/directives limit of 50/i) });
  });

  it('denied: a variable of the wrong type is the client\'s mistake: 400 BAD_USER_INPUT naming the variable, not a 500', async () => {
    const { status, body } = await post({ query: 'query ($n: Int) { channels(first: $n) { edges { cursor } } }', variables: { n: 'abc' } });
    expect(status).toBe(400);
    expect(body.errors).toEqual([expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(/Variable "\$n"/) })]);
  });

  it('denied: malformed JSON gets a clear 400', async () => {
    const { status, body } = await post('{"query": ');
    expect(status).toBe(400);
    expect(body.errors?.[0].extensions?.code).toBe('BAD_REQUEST');
  });
});

describe('limits on WebSocket', () => {
  /** Sends one raw graphql-ws subscribe and returns the server's first answer to it (or how the socket closed). */
  function rawSubscribe(query: string, variables?: Record<string, unknown>): Promise<{ type: string; payload?: unknown }> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${staff.token}` } })));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; payload?: unknown };
        if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
        else if (message.type !== 'ping' && message.type !== 'pong') {
          socket.close();
          resolve(message);
        }
      });
      socket.on('close', (code) => resolve({ type: `closed ${code}` }));
      socket.on('error', reject);
    });
  }

  const channelId = '00000000-0000-4000-8000-000000000000';

  it('allowed: a shallow subscription is accepted (then refused only for the unknown channel)', async () => {
    const answer = await rawSubscribe(`subscription { channelEvents(channelId: "${channelId}") { type } }`);
    expect(JSON.stringify(answer)).toMatch(/NOT_FOUND/);
  });

  it('denied: a subscription deeper than the limit fails validation like HTTP', async () => {
    const deep = `subscription { channelEvents(channelId: "${channelId}") { channel { messages { edges { node { channel { messages { edges { node { channel { id } } } } } } } } } } }`;
    const answer = await rawSubscribe(deep);
    expect(answer.type).toBe('error');
    expect(answer.payload).toEqual([expect.objectContaining({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' }, message: expect.stringMatching(/depth/i) })]);
  });

  it('denied: a subscription whose pages multiply past the cost limit', async () => {
    const costly = `subscription { channelEvents(channelId: "${channelId}") { channel { members(first: 100) { edges { node { id } } } messages(last: 100) { edges { node { id body channel { members(first: 100) { edges { node { id } } } } } } } } } }`;
    const answer = await rawSubscribe(costly);
    expect(answer.type).toBe('error');
    expect(answer.payload).toEqual([expect.objectContaining({ extensions: { code: 'QUERY_TOO_COMPLEX' } })]);
  });

  it('denied: a document past the size limit, or too many directives, is an error message on an open socket', async () => {
    const flood = await rawSubscribe(`subscription { typing(channelId: "${channelId}") { channelId ${'@include(if: true) '.repeat(8_000)}} }`);
    expect(flood).toEqual({ type: 'error', id: '1', payload: [expect.objectContaining({ extensions: { code: 'GRAPHQL_PARSE_FAILED' } })] });
    const many = await rawSubscribe(`subscription { typing(channelId: "${channelId}") { ${directives(51, 'channelId')} } }`);
    expect(many).toMatchObject({ type: 'error', payload: [expect.objectContaining({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })] });
  });

  it('denied: a variable of the wrong type is an error message (BAD_USER_INPUT), not a 4500 close', async () => {
    const answer = await rawSubscribe('subscription ($id: ID!, $n: Int) { channelEvents(channelId: $id) { channel { messages(first: $n) { edges { cursor } } } } }', { id: channelId, n: 'abc' });
    expect(answer).toMatchObject({ type: 'error', payload: [expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT' } })] });
  });

  it('denied: too many aliases', async () => {
    const aliases = Array.from({ length: 20 }, (_, i) => `a${i}: type`).join(' ');
    const answer = await rawSubscribe(`subscription { channelEvents(channelId: "${channelId}") { ${aliases} } }`);
    expect(answer.type).toBe('error');
    expect(JSON.stringify(answer.payload)).toMatch(/alias/i);
  });
});

describe('in production', () => {
  it('GET /graphql without an operation answers a short JSON hint (404), no landing page with third-party scripts; operations still run', async () => {
    const production = await startTestServer({ NODE_ENV: 'production' });
    try {
      const page = await fetch(production.url, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(404);
      expect(page.headers.get('content-type')).toMatch(/application\/json/);
      const text = await page.text();
      expect(text).not.toMatch(/<script|cdn|apollo/i);
      const query = await fetch(production.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
      expect(await query.json()).toEqual({ data: { __typename: 'Query' } });
    } finally {
      await production.close();
    }
  });
});

describe('error masking', () => {
  const silent = pino({ level: 'silent' });

  it('an unexpected error leaves as INTERNAL_SERVER_ERROR with no message, stack or SQL', () => {
    const error = new GraphQLError('select * from patient where ... syntax error', { originalError: new Error('ECONNREFUSED 10.0.0.1') });
    const masked = maskError({ ...error.toJSON(), extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['at x'] } }, error, silent);
    expect(masked).toEqual({ message: 'Internal server error.', path: undefined, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  });

  it('an expected error keeps its message and code only', () => {
    const error = new GraphQLError('The channel was not found.', { extensions: { code: 'NOT_FOUND' } });
    const masked = maskError({ ...error.toJSON(), extensions: { code: 'NOT_FOUND', stacktrace: ['at x'] } }, error, silent);
    expect(masked).toEqual({ message: 'The channel was not found.', path: undefined, locations: undefined, extensions: { code: 'NOT_FOUND' } });
  });
});
