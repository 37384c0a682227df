import { randomUUID } from 'node:crypto';
import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { errorCodes, eventually, ok, request, subscribe } from './support/client';
import { actions } from './support/actions';
import {
  ChannelActivateDocument,
  ChannelByIdDocument,
  ChannelEventsDocument,
  ChannelJoinDocument,
  ChannelMessagesDocument,
  ChannelsDocument,
  MeDocument,
  MessageByIdDocument,
  MessageSendDocument,
  OrganisationCreateDocument,
  PatientUpsertDocument,
  TeamMemberUpsertDocument,
} from './generated/graphql';

let server: TestServer;
let org: TestOrganisation;
let clinician: Person;
let patient: Person;
let otherPatient: Person;
let outsider: Person;
let staffChannelId: string;
let staffMessageId: string;
let careChannelId: string;
let careMessageId: string;
let otherCareChannelId: string;

const { activate, post } = actions(() => server);

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(server);
  clinician = await org.addStaff('Dr Access');
  patient = await org.addPatient('Probe Patient');
  otherPatient = await org.addPatient('Other Patient');
  const otherOrg = await createOrganisation(server);
  outsider = await otherOrg.addStaff('Dr Elsewhere', ['MESSAGING_MANAGEMENT', 'MESSAGING_ADMIN']);

  staffChannelId = (await activate(clinician, patient, 'STAFF')).id;
  staffMessageId = (await post(clinician, staffChannelId, 'Staff only: results pending')).id;
  careChannelId = (await activate(clinician, patient, 'CARE_TEAM')).id;
  careMessageId = (await post(clinician, careChannelId, 'Hello from your care team')).id;
  otherCareChannelId = (await activate(clinician, otherPatient, 'CARE_TEAM')).id;
  await post(clinician, otherCareChannelId, 'Hello other patient');
});
afterAll(() => server.close());

const randomId = () => randomUUID();

/** Every route a caller could probe a channel through, answered for one id. */
async function probeChannel(person: Person, channelId: string) {
  const byId = await request(server.url, person.token, ChannelByIdDocument, { id: channelId });
  const messages = await request(server.url, person.token, ChannelMessagesDocument, { id: channelId, last: 5 });
  const sent = await request(server.url, person.token, MessageSendDocument, { input: { channelId, body: 'probe' } });
  const subscribed = await subscriptionAnswer(person, channelId);
  const listed = await ok(server.url, person.token, ChannelsDocument, {});
  return {
    byId: byId.data,
    messages: messages.data,
    send: sent.data?.messageSend.userErrors,
    subscribe: subscribed,
    listed: listed.channels.edges.some((edge) => edge.node.id === channelId),
  };
}

/**
 * How the channel's event stream (from now on) answers the person: 'OPEN' once the server has
 * set the stream up, or the errors it was refused with. Anything else fails the test rather than
 * passing for either: the connection failing, the stream ending without a refusal, an event
 * where none was sent, or no answer at all.
 */
async function subscriptionAnswer(person: Person, channelId: string): Promise<'OPEN' | Array<{ message: string; code: unknown }>> {
  // Streams of earlier probes are released first, so a count above zero is this one.
  await eventually(() => server.deps.live.streamCount === 0);
  const sub = subscribe(server.wsUrl, person.token, ChannelEventsDocument, { channelId });
  let end: { error?: unknown } | undefined;
  void sub.ended.then((ended) => (end = ended));
  try {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (end) {
        const answer = await sub.next(0).catch(() => undefined);
        if (!answer?.errors?.length || answer.data) {
          throw new Error(`the stream ended without a refusal: ${JSON.stringify({ answer, error: String(end.error ?? '') })}`);
        }
        return answer.errors.map((error) => ({ message: error.message, code: error.extensions?.code }));
      }
      if (server.deps.live.streamCount > 0) return 'OPEN';
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('the stream was neither set up nor refused within 5 s');
  } finally {
    await sub.close();
  }
}

/** The person's subscription receives a message sent after its cursor. */
async function expectLiveDelivery(person: Person, channelId: string) {
  const anchor = await post(clinician, channelId, 'anchor');
  const sub = subscribe(server.wsUrl, person.token, ChannelEventsDocument, { channelId, after: anchor.cursor });
  const sent = await post(clinician, channelId, 'delivered');
  expect((await sub.next()).data?.channelEvents.message?.id).toBe(sent.id);
  await sub.close();
}

describe('a channel the caller may not see looks exactly like one that does not exist', () => {
  const notFound = {
    byId: { channel: null },
    messages: { channel: null },
    send: [{ code: 'NOT_FOUND', field: 'input.channelId', message: 'No such channel.', retryAfterSeconds: null }],
    subscribe: [{ message: 'The channel was not found.', code: 'NOT_FOUND' }],
    listed: false,
  };

  it('a random id: the reference answer', async () => {
    expect(await probeChannel(patient, randomId())).toEqual(notFound);
  });

  it('denied: a patient probing the staff channel about them', async () => {
    expect(await probeChannel(patient, staffChannelId)).toEqual(notFound);
  });

  it('denied: a patient probing another patient’s care-team channel', async () => {
    expect(await probeChannel(patient, otherCareChannelId)).toEqual(notFound);
  });

  it('denied: staff of another organisation probing a care-team channel', async () => {
    expect(await probeChannel(outsider, careChannelId)).toEqual(notFound);
  });

  it('allowed: the patient on their own care-team channel', async () => {
    const seen = await probeChannel(patient, careChannelId);
    expect(seen.byId?.channel?.id).toBe(careChannelId);
    expect(seen.messages?.channel?.messages.edges.map((edge) => edge.node.id)).toContain(careMessageId);
    expect(seen.send).toEqual([]);
    expect(seen.subscribe).toBe('OPEN');
    expect(seen.listed).toBe(true);
    await expectLiveDelivery(patient, careChannelId);
  });

  it('allowed: a staff member on the staff channel', async () => {
    const seen = await probeChannel(clinician, staffChannelId);
    expect(seen.byId?.channel?.id).toBe(staffChannelId);
    expect(seen.send).toEqual([]);
    expect(seen.subscribe).toBe('OPEN');
    expect(seen.listed).toBe(true);
    await expectLiveDelivery(clinician, staffChannelId);
  });

  it('messages by id: hidden ones answer null like a random id', async () => {
    const ask = async (person: Person, id: string) => (await request(server.url, person.token, MessageByIdDocument, { id })).data;
    expect(await ask(patient, randomId())).toEqual({ message: null });
    expect(await ask(patient, staffMessageId)).toEqual({ message: null });
    expect(await ask(outsider, careMessageId)).toEqual({ message: null });
    expect(await ask(patient, careMessageId)).toEqual({ message: { id: careMessageId, body: 'Hello from your care team' } });
    expect(await ask(clinician, staffMessageId)).toMatchObject({ message: { id: staffMessageId } });
  });

  it('join and activate across organisations answer NOT_FOUND', async () => {
    const join = await ok(server.url, outsider.token, ChannelJoinDocument, { input: { channelId: careChannelId } });
    expect(join.channelJoin.userErrors.map((error) => error.code)).toEqual(['NOT_FOUND']);
    const activation = await ok(server.url, outsider.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } });
    expect(activation.channelActivate.userErrors.map((error) => error.code)).toEqual(['NOT_FOUND']);
  });

  it('patient channels list never includes a staff channel, even filtered by kind', async () => {
    const list = await ok(server.url, patient.token, ChannelsDocument, { filter: { kind: 'STAFF' } });
    expect(list.channels.edges).toEqual([]);
  });
});

describe('operation rules by role (allowed beside denied)', () => {
  const patientInput = () => ({ input: { externalId: `p-${randomId()}`, name: 'Rule Patient' } });

  it('only operators create organisations', async () => {
    const operator = await server.token({ role: 'operator', sub: 'ops' });
    const allowed = await request(server.url, operator, OrganisationCreateDocument, { input: { slug: `r-${randomId().slice(0, 8)}`, name: 'Rule Org' } });
    expect(allowed.data?.organisationCreate.organisation).not.toBeNull();
    const denied = await request(server.url, clinician.token, OrganisationCreateDocument, { input: { slug: `r-${randomId().slice(0, 8)}`, name: 'Nope' } });
    expect(errorCodes(denied)).toEqual(['FORBIDDEN']);
    expect(denied.data).toBeNull();
  });

  it('a taken slug is a user error', async () => {
    const operator = await server.token({ role: 'operator', sub: 'ops' });
    const result = await ok(server.url, operator, OrganisationCreateDocument, { input: { slug: org.slug, name: 'Again' } });
    expect(result.organisationCreate.userErrors.map((error) => error.code)).toEqual(['SLUG_TAKEN']);
  });

  it('only services sync team members and patients', async () => {
    expect((await ok(server.url, org.serviceToken, PatientUpsertDocument, patientInput())).patientUpsert.userErrors).toEqual([]);
    for (const token of [clinician.token, patient.token]) {
      expect(errorCodes(await request(server.url, token, PatientUpsertDocument, patientInput()))).toEqual(['FORBIDDEN']);
      expect(errorCodes(await request(server.url, token, TeamMemberUpsertDocument, { input: { externalId: 'x', name: 'X' } }))).toEqual(['FORBIDDEN']);
    }
  });

  it('only staff activate and join channels', async () => {
    const denied = await request(server.url, patient.token, ChannelActivateDocument, { input: { patientId: patient.id, kind: 'CARE_TEAM' } });
    expect(errorCodes(denied)).toEqual(['FORBIDDEN']);
    expect(errorCodes(await request(server.url, patient.token, ChannelJoinDocument, { input: { channelId: careChannelId } }))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await request(server.url, org.serviceToken, ChannelJoinDocument, { input: { channelId: careChannelId } }))).toEqual(['FORBIDDEN']);
  });

  it('services and operators do not read or send messages', async () => {
    const operator = await server.token({ role: 'operator', sub: 'ops' });
    for (const token of [org.serviceToken, operator]) {
      expect(errorCodes(await request(server.url, token, MessageSendDocument, { input: { channelId: careChannelId, body: 'x' } }))).toEqual(['FORBIDDEN']);
      expect(errorCodes(await request(server.url, token, ChannelsDocument, {}))).toEqual(['FORBIDDEN']);
      const sub = subscribe(server.wsUrl, token, ChannelEventsDocument, { channelId: careChannelId });
      expect(errorCodes(await sub.next())).toEqual(['FORBIDDEN']);
      await sub.close();
    }
  });

  it('no token: UNAUTHENTICATED for every operation', async () => {
    expect(errorCodes(await request(server.url, undefined, ChannelsDocument, {}))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await request(server.url, undefined, MessageSendDocument, { input: { channelId: careChannelId, body: 'x' } }))).toEqual(['UNAUTHENTICATED']);
  });

  it('directory details: staff see a patient’s real name beside the display name', async () => {
    const email = `${randomId()}@patients.example`;
    const p = await org.addPatient('Detail Patient', { email });
    const channelId = (await ok(server.url, clinician.token, ChannelActivateDocument, { input: { patientId: p.id, kind: 'CARE_TEAM' } })).channelActivate.channel!.id;
    const staffView = await ok(server.url, clinician.token, ChannelByIdDocument, { id: channelId });
    const patientNode = staffView.channel!.members.edges.find((edge) => edge.node.patient)!.node.patient!;
    expect(patientNode).toMatchObject({ id: p.id, displayName: 'Detail' });
    const me = await ok(server.url, p.token, MeDocument);
    expect(me.me).toMatchObject({ __typename: 'Patient', realName: 'Detail Patient', email });
  });
});
