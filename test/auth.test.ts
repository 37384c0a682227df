import { SignJWT, UnsecuredJWT } from 'jose';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { connectionCloseCode, errorCodes, request, subscribe } from './support/client';
import { ChannelActivateDocument, ChannelEventsDocument, MeDocument, MessageSendDocument } from './generated/graphql';

let server: TestServer;
let org: TestOrganisation;
let staff: Person;

beforeAll(async () => {
  // Access is re-checked in the database before every batch: changes made outside this API are caught too.
  server = await startTestServer({ LIVE_REVALIDATE_MS: '1' });
  org = await createOrganisation(server);
  staff = await org.addStaff('Dr Token');
});
afterAll(() => server.close());

const hs256 = (claims: Record<string, unknown>, secret = TEST_JWT_SECRET, exp: number | string = '1h') =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(exp).sign(new TextEncoder().encode(secret));

const now = () => Math.floor(Date.now() / 1000);
/** An HS256 token with exactly these claims (nothing added). */
const signed = (claims: Record<string, unknown>, secret = TEST_JWT_SECRET) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));

describe('tokens over HTTP', () => {
  it('allowed: a valid staff token', async () => {
    const result = await request(server.url, staff.token, MeDocument);
    expect(result.data?.me).toMatchObject({ __typename: 'TeamMember', id: staff.id });
  });

  const rejected: Array<[string, () => Promise<string>]> = [
    // The clock tolerance is for issuers whose clocks run ahead: expiry is to the second.
    ['expired ten seconds ago', () => hs256({ role: 'staff', org: org.slug, sub: staff.externalId }, TEST_JWT_SECRET, Math.floor(Date.now() / 1000) - 10)],
    ['unsigned (alg none)', async () => new UnsecuredJWT({ role: 'staff', org: org.slug, sub: staff.externalId }).setExpirationTime('1h').encode()],
    ['signed with another secret', () => hs256({ role: 'staff', org: org.slug, sub: staff.externalId }, 'another-secret-that-is-long-enough-0123456789')],
    ['for an unknown person', () => hs256({ role: 'staff', org: org.slug, sub: 'nobody' })],
    ['for an unknown organisation', () => hs256({ role: 'staff', org: 'no-such-org', sub: staff.externalId })],
    ['without exp', () => new SignJWT({ role: 'staff', org: org.slug, sub: staff.externalId }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(TEST_JWT_SECRET))],
    ['with an unknown role', () => hs256({ role: 'admin', org: org.slug, sub: staff.externalId })],
    ['living far beyond the maximum age (exp: 1e300)', () => signed({ role: 'staff', org: org.slug, sub: staff.externalId, exp: 1e300, iat: now() })],
    ['living 25 hours (the maximum is 24)', () => signed({ role: 'staff', org: org.slug, sub: staff.externalId, iat: now(), exp: now() + 25 * 3600 })],
    ['issued an hour in the future', () => signed({ role: 'staff', org: org.slug, sub: staff.externalId, iat: now() + 3600, exp: now() + 7200 })],
    ['not valid for another hour (nbf)', () => signed({ role: 'staff', org: org.slug, sub: staff.externalId, iat: now(), nbf: now() + 3600, exp: now() + 7200 })],
    ['without iat', () => signed({ role: 'staff', org: org.slug, sub: staff.externalId, exp: now() + 3600 })],
    ['garbage', async () => 'not-a-token'],
  ];

  it.each(rejected)('denied: a token %s gets 401 UNAUTHENTICATED', async (_label, make) => {
    const result = await request(server.url, await make(), MeDocument);
    expect(result.status).toBe(401);
    expect(errorCodes(result)).toEqual(['UNAUTHENTICATED']);
    expect(result.data ?? null).toBeNull();
  });

  it('allowed: clocks that disagree by less than the tolerance (iat 30 s ahead), and a token living the full maximum age', async () => {
    for (const claims of [{ iat: now() + 30, exp: now() + 3600 }, { iat: now(), exp: now() + 24 * 3600 }]) {
      const result = await request(server.url, await signed({ role: 'staff', org: org.slug, sub: staff.externalId, ...claims }), MeDocument);
      expect(result.data?.me).toMatchObject({ id: staff.id });
    }
  });

  it('with an issuer and audience configured for HS256: allowed when they match; denied when missing or different', async () => {
    const strict = await startTestServer({ AUTH_ISSUER: 'https://idp.clinic.example', AUTH_AUDIENCE: 'care-messaging' });
    try {
      const claims = { role: 'staff', org: org.slug, sub: staff.externalId, iat: now(), exp: now() + 3600 };
      const matching = await signed({ ...claims, iss: 'https://idp.clinic.example', aud: 'care-messaging' });
      expect((await request(strict.url, matching, MeDocument)).data?.me).toMatchObject({ id: staff.id });
      for (const token of [await signed(claims), await signed({ ...claims, iss: 'https://evil.example', aud: 'care-messaging' }), await signed({ ...claims, iss: 'https://idp.clinic.example', aud: 'other-app' })]) {
        expect(errorCodes(await request(strict.url, token, MeDocument))).toEqual(['UNAUTHENTICATED']);
      }
    } finally {
      await strict.close();
    }
  });

  it('denied: a token of an archived team member', async () => {
    const archived = await org.addStaff('Dr Archived');
    await server.orm.em.fork().execute('update team_member set archived_at = now() where organisation_id = ? and id = ?', [org.id, archived.id]);
    expect(errorCodes(await request(server.url, archived.token, MeDocument))).toEqual(['UNAUTHENTICATED']);
  });
});

describe('revocation of open streams', () => {
  it('a patient archived outside the API: their subscription ends at the next event, not silently: UNAUTHENTICATED from the check before the batch, or 4403 if the sweep for archived people comes first', async () => {
    const patient = await org.addPatient('Soon Archived');
    const channel = (await request(server.url, staff.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).data!.channelActivate.channel!;
    const first = (await request(server.url, staff.token, MessageSendDocument, { input: { channelId: channel.id, body: 'first' } })).data!.messageSend.message!;
    const live = subscribe(server.wsUrl, patient.token, ChannelEventsDocument, { channelId: channel.id, after: first.cursor });
    await request(server.url, staff.token, MessageSendDocument, { input: { channelId: channel.id, body: 'still delivered' } });
    expect((await live.next()).data?.channelEvents.message?.body).toBe('still delivered');

    await server.orm.em.fork().execute('update patient set archived_at = now() where organisation_id = ? and id = ?', [org.id, patient.id]);
    await request(server.url, staff.token, MessageSendDocument, { input: { channelId: channel.id, body: 'not for an archived patient' } });
    // Ended, not left open and silent: by the check before the next batch (UNAUTHENTICATED), or by
    // the periodic sweep for archived people closing the connection (4403), whichever comes first.
    const { error } = await live.ended;
    const outcome = Array.isArray(error) ? errorCodes({ errors: error }) : [(error as { code?: number }).code];
    expect([['UNAUTHENTICATED'], [4403]]).toContainEqual(outcome);
    await live.close();
  });

  it('a patient archived outside the API, with no event to come: the sweep for archived people closes their socket 4403', async () => {
    const patient = await org.addPatient('Archived While Idle');
    const channel = (await request(server.url, staff.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } })).data!.channelActivate.channel!;
    const first = (await request(server.url, staff.token, MessageSendDocument, { input: { channelId: channel.id, body: 'first' } })).data!.messageSend.message!;
    const idle = subscribe(server.wsUrl, patient.token, ChannelEventsDocument, { channelId: channel.id, after: first.cursor });
    await request(server.url, staff.token, MessageSendDocument, { input: { channelId: channel.id, body: 'delivered' } });
    expect((await idle.next()).data?.channelEvents.message?.body).toBe('delivered');

    // Nothing is sent after this, so no batch check runs: only the sweep (every second here) can end it.
    await server.orm.em.fork().execute('update patient set archived_at = now() where organisation_id = ? and id = ?', [org.id, patient.id]);
    const { error } = await idle.ended;
    expect((error as { code?: number } | undefined)?.code).toBe(4403);
    await idle.close();
  });
});

describe('tokens over WebSocket (connection_init)', () => {
  it('allowed: a valid token is acknowledged', async () => {
    expect(await connectionCloseCode(server.wsUrl, { authorization: `Bearer ${staff.token}` })).toBe(1000);
  });

  it('denied: no token closes 4401', async () => {
    expect(await connectionCloseCode(server.wsUrl, {})).toBe(4401);
  });

  it('denied: a badly signed token closes 4401', async () => {
    const token = await hs256({ role: 'staff', org: org.slug, sub: staff.externalId }, 'another-secret-that-is-long-enough-0123456789');
    expect(await connectionCloseCode(server.wsUrl, { authorization: `Bearer ${token}` })).toBe(4401);
  });

  it('denied: a token of an unknown person closes 4403', async () => {
    const token = await hs256({ role: 'staff', org: org.slug, sub: 'nobody' });
    expect(await connectionCloseCode(server.wsUrl, { authorization: `Bearer ${token}` })).toBe(4403);
  });

  it('an already expired token closes 4419 (a code graphql-ws retries, asking connectionParams again)', async () => {
    const token = await hs256({ role: 'staff', org: org.slug, sub: staff.externalId }, TEST_JWT_SECRET, Math.floor(Date.now() / 1000) - 10);
    expect(await connectionCloseCode(server.wsUrl, { authorization: `Bearer ${token}` })).toBe(4419);
  });

  it('the socket closes 4419 when the token expires', async () => {
    const token = await hs256({ role: 'staff', org: org.slug, sub: staff.externalId }, TEST_JWT_SECRET, Math.floor(Date.now() / 1000) + 2);
    const closed = await new Promise<number>((resolve) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const WebSocket = require('ws') as typeof import('ws');
      const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
      socket.on('close', (code) => resolve(code));
    });
    expect(closed).toBe(4419);
  });
});
