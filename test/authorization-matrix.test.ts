import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema, getNamedType, isObjectType, parse, type GraphQLObjectType } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import webpush from 'web-push';
import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { errorCodes, eventually, request, requestOverSocket, subscribe, type HttpResult, type Subscription } from './support/client';

/*
 * The authorization matrix: every root field of the schema against every kind of caller, each
 * cell ALLOWED or DENIED. A field added to the schema without a row (or a row for a field that is
 * gone) fails the first test. On failure the whole matrix is printed, actual beside expected.
 *
 * The callers, all but the last in one organisation:
 *   operator      platform operator token
 *   service       the organisation's partner integration
 *   staff         plain team member, member of the patient's channels
 *   staffMM       team member with MESSAGING_MANAGEMENT, member of the channels
 *   admin         team member with MESSAGING_ADMIN only (so never allowed what needs MESSAGING_MANAGEMENT)
 *   patient       the patient of the channels
 *   guardian      guardian of the patient: in their CARE_TEAM and CONVERSATION channels, never STAFF or GROUP ones
 *   otherPatient  a patient of the organisation in none of these channels
 *   foreignStaff  team member of another organisation with every permission, naming this organisation's ids
 *
 * foreignStaff's token is valid for their own organisation: operations that name no id (me,
 * channels, badgeCount, messagingSettings, activationRules, auditEvents, unstaffedChannels,
 * incomingConversations, inboxEvents) answer them about their own organisation, which is ALLOWED, and every cell also
 * fails if the answer mentions any of this organisation's ids (see `hiddenFrom`).
 */

const ACTORS = ['operator', 'service', 'staff', 'staffMM', 'admin', 'patient', 'guardian', 'otherPatient', 'foreignStaff'] as const;
type ActorName = (typeof ACTORS)[number];
const ROLE: Record<ActorName, 'operator' | 'service' | 'staff' | 'patient'> = {
  operator: 'operator',
  service: 'service',
  staff: 'staff',
  staffMM: 'staff',
  admin: 'staff',
  patient: 'patient',
  guardian: 'patient',
  otherPatient: 'patient',
  foreignStaff: 'staff',
};
/** The team members of this organisation. */
const STAFF: ActorName[] = ['staff', 'staffMM', 'admin'];
/** The members of the patient's CARE_TEAM channel. */
const MEMBERS: ActorName[] = [...STAFF, 'patient', 'guardian'];
/** Every caller with a person's token. */
const PEOPLE: ActorName[] = [...MEMBERS, 'otherPatient', 'foreignStaff'];

type Verdict = 'ALLOWED' | 'DENIED';
type Outcome = Verdict | { unexpected: string };
const unexpected = (what: string): Outcome => ({ unexpected: what });

// ---------------------------------------------------------------------------------------------
// The classification rule

const DENIAL_ERRORS = new Set(['FORBIDDEN', 'UNAUTHENTICATED', 'NOT_FOUND']);
const DENIAL_USER_ERRORS = new Set(['FORBIDDEN', 'NOT_FOUND', 'NOT_ALLOWED_TO_START', 'UNSUPPORTED_CHANNEL_KIND', 'PATIENT_CANNOT_LEAVE']);
/** WebSocket close codes of a refused connection (graphql-ws Unauthorized / Forbidden). */
const DENIAL_CLOSE_CODES = new Set([4401, 4403]);

type Data = Record<string, unknown>;
interface Payload {
  userErrors: Array<{ code: string }>;
  [object: string]: unknown;
}
interface Connection {
  edges: Array<{ node: { id: string } }>;
}

interface Judging {
  /** List queries: the items that count; none means DENIED. */
  items?: (value: unknown) => unknown[];
  /** Further conditions on an ALLOWED answer; returns what is wrong. */
  check?: (actor: ActorName, value: unknown) => string | undefined;
  /** Payload fields of which exactly one is set (the caller's own kind of object), the others null. */
  oneOf?: readonly string[];
}

/**
 * DENIED: a top-level FORBIDDEN / UNAUTHENTICATED / NOT_FOUND, a payload refusing with a denial
 * userError, a by-id query answering null, or a list (with `items`) holding nothing. ALLOWED: no
 * errors, no userErrors and the data present. Anything else is unexpected and fails the cell.
 */
function classify(actor: ActorName, result: HttpResult<Data>, field: string, judging: Judging = {}): Outcome {
  const codes = errorCodes(result);
  if (codes.length > 0) return codes.every((code) => DENIAL_ERRORS.has(code)) ? 'DENIED' : unexpected(`errors ${codes.join(', ')}`);
  const value = result.data?.[field];
  if (value === null) return 'DENIED';
  if (value === undefined) return unexpected('no data');
  if (isPayload(value)) {
    const userCodes = value.userErrors.map((error) => error.code);
    if (userCodes.length > 0) return userCodes.every((code) => DENIAL_USER_ERRORS.has(code)) ? 'DENIED' : unexpected(`userErrors ${userCodes.join(', ')}`);
    const absent = Object.keys(value).filter((key) => key !== 'userErrors' && !judging.oneOf?.includes(key) && value[key] == null);
    if (absent.length > 0) return unexpected(`payload without ${absent.join(', ')}`);
    const set = judging.oneOf?.filter((key) => value[key] != null) ?? [];
    if (judging.oneOf && set.length !== 1) return unexpected(`payload with ${set.length} of ${judging.oneOf.join(', ')}`);
  }
  if (judging.items && judging.items(value).length === 0) return 'DENIED';
  const problem = judging.check?.(actor, value);
  return problem ? unexpected(problem) : 'ALLOWED';
}

const isPayload = (value: unknown): value is Payload => typeof value === 'object' && value !== null && 'userErrors' in value;

/** Any cell, allowed or not, fails when the answer mentions an id the caller must not learn of. */
function leakIn(actor: ActorName, result: unknown): Outcome | undefined {
  const text = JSON.stringify(result);
  const seen = [...w.hidden[actor]].filter(([id]) => text.includes(id)).map(([, name]) => name);
  return seen.length > 0 ? unexpected(`LEAK: answer mentions ${seen.join(', ')}`) : undefined;
}

// ---------------------------------------------------------------------------------------------
// The world: one organisation with the actors and their channels, and a foreign one

interface World {
  org: TestOrganisation;
  /** The foreign organisation's slug (it accepts conversations from other clinics). */
  foreignSlug: string;
  tokens: Record<ActorName, string>;
  ids: Partial<Record<ActorName, string>>;
  /** A team member of the CARE_TEAM channel who is no actor: the typist, and a second team member of fresh channels. */
  colleague: Person;
  careChannelId: string;
  careMessageId: string;
  staffChannelId: string;
  conversationId: string;
  /** The conversation's first message (handed over by the conversationHandover row). */
  conversationMessageId: string;
  /** Handovers the foreign clinic offered this one. */
  handoverToAcceptId: string;
  handoverToDeclineId: string;
  groupId: string;
  /** A conversation the patient started that nobody responds to yet. */
  unstaffedId: string;
  /** A second conversation the patient started, answered by the messageSend row (answering joins, so it is kept apart from the rest). */
  answerableId: string;
  /** An internal note in the CARE_TEAM channel addressed to "Billing", which only staffMM holds (the admin sees every note). */
  addressedNoteId: string;
  /** Per caller, ids they must never see, with a name for the report. */
  hidden: Record<ActorName, Map<string, string>>;
}

let server: TestServer;
let w: World;
const schema = buildSchema(readFileSync(path.join(__dirname, '..', 'schema.graphql'), 'utf8'));

const gql = (source: string) => parse(source) as TypedDocumentNode<Data, Record<string, unknown>>;

/** `mutation($input: …!) { field(input: $input) { <each payload object> { __typename id } userErrors { … } } }`, built from the schema. */
function mutationDocument(field: string) {
  const definition = schema.getMutationType()!.getFields()[field];
  const input = definition.args.find((arg) => arg.name === 'input')!.type.toString();
  const payload = getNamedType(definition.type) as GraphQLObjectType;
  const objects = Object.values(payload.getFields())
    .filter((f) => f.name !== 'userErrors')
    .map((f) => {
      const type = getNamedType(f.type);
      return isObjectType(type) ? `${f.name} { __typename${'id' in type.getFields() ? ' id' : ''} }` : f.name;
    });
  return gql(`mutation Matrix($input: ${input}) { ${field}(input: $input) { ${objects.join(' ')} userErrors { code field message } } }`);
}

/** Runs a mutation that must succeed (building the world); returns its payload. */
async function perform(token: string, field: string, input: object): Promise<Payload> {
  const result = await request(server.url, token, mutationDocument(field), { input });
  const payload = result.data?.[field];
  if (result.errors?.length || !isPayload(payload) || payload.userErrors.length > 0) {
    throw new Error(`setup: ${field} failed: ${JSON.stringify(result.errors ?? (payload as Payload | undefined)?.userErrors)}`);
  }
  return payload;
}
const idIn = (payload: Payload, object: string) => (payload[object] as { id: string }).id;
const edgesOf = (value: unknown) => (value as Connection).edges;

beforeAll(async () => {
  // Typing notices unthrottled: the typist confirms each typing subscription with a notice of its own.
  // Push set up (never sent to: no worker runs here), so device registration and the VAPID key answer.
  const vapid = webpush.generateVAPIDKeys();
  server = await startTestServer({
    TYPING_INTERVAL_MS: '1',
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT: 'mailto:matrix@clinic.example',
    MOBILE_PUSH_URL: 'http://127.0.0.1:9/unused',
  });
  const [org, foreignOrg] = await Promise.all([createOrganisation(server), createOrganisation(server)]);
  const [staff, staffMM, admin, colleague, patient, otherPatient, foreignStaff, foreignHelper, foreignPatient] = await Promise.all([
    org.addStaff('Sam Staff'),
    org.addStaff('Mia Manager', ['MESSAGING_MANAGEMENT'], ['Clinician', 'Billing']),
    org.addStaff('Ada Admin', ['MESSAGING_ADMIN']),
    org.addStaff('Cole Colleague'),
    org.addPatient('Pat Patient'),
    org.addPatient('Olly Other'),
    foreignOrg.addStaff('Fay Foreign', ['MESSAGING_MANAGEMENT', 'MESSAGING_ADMIN']),
    foreignOrg.addStaff('Hal Helper'),
    foreignOrg.addPatient('Fern Foreign'),
  ]);
  const activate = async (kind: string) => idIn(await perform(staff.token, 'channelActivate', { patientId: patient.id, kind }), 'channel');
  const [careChannelId, staffChannelId] = await Promise.all([activate('CARE_TEAM'), activate('STAFF')]);
  // The guardian comes after the channels: linking them adds them to the CARE_TEAM channel, not the STAFF one.
  const guardian = await org.addPatient('Gina Guardian', { guardianOfPatientIds: [patient.id] });

  const [careMessageId, [conversationId, conversationMessageId, unstaffedId, answerableId], groupId] = await Promise.all([
    (async () => {
      await Promise.all([staffMM, admin, colleague].map((person) => perform(person.token, 'channelJoin', { channelId: careChannelId })));
      return idIn(await perform(staff.token, 'messageSend', { channelId: careChannelId, body: 'Hello from your care team' }), 'message');
    })(),
    (async () => {
      // This organisation accepts conversations (and handovers) from other clinics too.
      await perform(admin.token, 'messagingSettingsUpdate', { patientsCanStartConversations: true, clinicsCanStartConversations: true });
      await perform(admin.token, 'activationRuleUpdate', { kind: 'SERVICE_TEAM', autoActivate: false, teamMemberIds: [admin.id] });
      // Conversations add the patient's guardian as they start.
      const startedPayload = await perform(staff.token, 'conversationStart', { patientId: patient.id, title: 'Results', body: 'Your results are in' });
      const [started, startedMessage] = [idIn(startedPayload, 'channel'), idIn(startedPayload, 'message')];
      // Started by the patient with no allocation clinician: nobody responds, so it is unstaffed.
      const unstaffed = idIn(await perform(patient.token, 'conversationStart', { title: 'A question', body: 'May I ask something?' }), 'channel');
      const answerable = idIn(await perform(patient.token, 'conversationStart', { title: 'Another question', body: 'And one more thing?' }), 'channel');
      return [started, startedMessage, unstaffed, answerable];
    })(),
    (async () =>
      idIn(await perform(staffMM.token, 'groupChannelCreate', { title: 'Tuesday group', teamMemberIds: [staff.id, admin.id], patientIds: [patient.id] }), 'channel'))(),
    (async () => {
      // The foreign organisation has an unstaffed channel of its own (its only team member archived).
      await perform(foreignHelper.token, 'channelActivate', { patientId: foreignPatient.id, kind: 'CARE_TEAM' });
      await perform(foreignOrg.serviceToken, 'teamMemberArchive', { teamMemberId: foreignHelper.id });
      // ...and a conversation its patient started, waiting for an answer.
      await perform(foreignStaff.token, 'messagingSettingsUpdate', { patientsCanStartConversations: true });
      await perform(foreignPatient.token, 'conversationStart', { title: 'Elsewhere', body: 'A question for my own clinic' });
      // Off again: the messagingSettings row tells the two organisations apart by this setting.
      // It accepts conversations from other clinics: the clinicConversationStart row starts them there.
      await perform(foreignStaff.token, 'messagingSettingsUpdate', { patientsCanStartConversations: false, clinicsCanStartConversations: true });
    })(),
  ]);

  // The foreign clinic offers this one two of its patient conversations (to accept, and to decline).
  for (const title of ['To accept', 'To decline']) {
    const offered = await perform(foreignStaff.token, 'conversationStart', { patientId: foreignPatient.id, title, body: 'Handing over' });
    await perform(foreignStaff.token, 'conversationHandover', {
      channelId: idIn(offered, 'channel'),
      clinicSlug: org.slug,
      messageIds: [idIn(offered, 'message')],
      consent: { obtainedAt: '2026-11-30T10:00:00.000Z', method: 'WRITTEN' },
    });
  }
  const incomingHandovers = gql('{ handovers(direction: INCOMING, status: PENDING) { edges { node { id title } } } }');
  let handoverIds: Record<string, string> = {};
  await eventually(async () => {
    const listed = (await request(server.url, admin.token, incomingHandovers, {})).data?.handovers as { edges: Array<{ node: { id: string; title: string } }> } | undefined;
    handoverIds = Object.fromEntries((listed?.edges ?? []).map((edge) => [edge.node.title, edge.node.id]));
    return Object.keys(handoverIds).length === 2;
  });

  const addressedNoteId = idIn(await perform(colleague.token, 'messageSend', { channelId: careChannelId, body: 'Billing only', internal: true, audienceRoles: ['Billing'] }), 'message');

  const ours = new Map([
    [careChannelId, 'the CARE_TEAM channel'],
    [staffChannelId, 'the STAFF channel'],
    [conversationId, 'the conversation'],
    [groupId, 'the GROUP channel'],
    [unstaffedId, 'the unstaffed conversation'],
    [answerableId, 'the conversation to answer'],
    [careMessageId, 'the message'],
    [addressedNoteId, 'the note addressed to Billing'],
    [patient.id, 'the patient'],
    [guardian.id, 'the guardian'],
  ]);
  // A team member opens the CARE_TEAM channel's messages: the patient's access log has an entry.
  const opened = await request(server.url, staff.token, gql('query ($id: ID!) { channel(id: $id) { messages(first: 1) { edges { node { id } } } } }'), { id: careChannelId });
  expect(opened.errors).toBeUndefined();
  w = {
    org,
    foreignSlug: foreignOrg.slug,
    colleague,
    careChannelId,
    careMessageId,
    staffChannelId,
    conversationId,
    conversationMessageId,
    handoverToAcceptId: handoverIds['To accept'],
    handoverToDeclineId: handoverIds['To decline'],
    groupId,
    unstaffedId,
    answerableId,
    addressedNoteId,
    tokens: {
      operator: await server.token({ role: 'operator', sub: 'matrix-operator' }),
      service: org.serviceToken,
      staff: staff.token,
      staffMM: staffMM.token,
      admin: admin.token,
      patient: patient.token,
      guardian: guardian.token,
      otherPatient: otherPatient.token,
      foreignStaff: foreignStaff.token,
    },
    ids: { staff: staff.id, staffMM: staffMM.id, admin: admin.id, patient: patient.id, guardian: guardian.id, otherPatient: otherPatient.id, foreignStaff: foreignStaff.id },
    hidden: {
      operator: new Map(),
      service: new Map(),
      staff: new Map([[addressedNoteId, 'the note addressed to Billing']]),
      staffMM: new Map(),
      admin: new Map(),
      patient: new Map([
        [staffChannelId, 'the STAFF channel'],
        [addressedNoteId, 'the note addressed to Billing'],
      ]),
      guardian: new Map([
        [addressedNoteId, 'the note addressed to Billing'],
        [staffChannelId, 'the STAFF channel'],
        [groupId, 'the GROUP channel'],
      ]),
      otherPatient: ours,
      foreignStaff: new Map([
        ...ours,
        ...[staff, staffMM, admin, colleague, otherPatient].map((person): [string, string] => [person.id, 'a person of this organisation']),
      ]),
    },
  };
  // A document in the patient's chart, for the chart rows.
  await chartDocument();
  webhookFixture = await webhookWithDelivery();
});
afterAll(() => server.close());

// ---------------------------------------------------------------------------------------------
// Rows

interface Row {
  /** `Query.channel`, `Mutation.channelLeave`, ... */
  operation: string;
  /** What the row names beside the operation (its target), e.g. `STAFF channel`. */
  target?: string;
  allowed: readonly ActorName[];
  probe(actor: ActorName): Promise<Outcome>;
}
const kindOf = (row: Row) => row.operation.split('.')[0] as 'Query' | 'Mutation' | 'Subscription';
const labelOf = (row: Row) => `${row.operation}${row.target ? ` (${row.target})` : ''}`;

/** Made once, on first use (rows are declared before the world exists). */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

type Send = (token: string, document: TypedDocumentNode<Data, Record<string, unknown>>, variables: Record<string, unknown>) => Promise<HttpResult<Data>>;

/**
 * Queries run over HTTP and then over a WebSocket (graphql-ws): the cell holds only if both
 * transports answer alike. (Mutations go over HTTP only; the last test shows the socket refuses them.)
 */
async function overBothTransports(probe: (send: Send) => Promise<Outcome>): Promise<Outcome> {
  const overHttp = await probe((token, document, variables) => request(server.url, token, document, variables));
  const overSocket = await probe((token, document, variables) => requestOverSocket(server.wsUrl, token, document, variables));
  if (JSON.stringify(overHttp) === JSON.stringify(overSocket)) return overHttp;
  return unexpected(`HTTP ${JSON.stringify(overHttp)} but WebSocket ${JSON.stringify(overSocket)}`);
}

function queryRow(field: string, allowed: readonly ActorName[], source: string, options: Judging & { target?: string; variables?: () => Record<string, unknown> } = {}): Row {
  const document = gql(source);
  return {
    operation: `Query.${field}`,
    target: options.target,
    allowed,
    probe: (actor) => overBothTransports(async (send) => {
      const result = await send(w.tokens[actor], document, options.variables?.() ?? {});
      return leakIn(actor, result) ?? classify(actor, result, field, options);
    }),
  };
}

function mutationRow(field: string, allowed: readonly ActorName[], input: (actor: ActorName) => object | Promise<object>, target?: string, judging: Judging = {}): Row {
  return {
    operation: `Mutation.${field}`,
    target,
    allowed,
    async probe(actor) {
      const result = await request(server.url, w.tokens[actor], mutationDocument(field), { input: await input(actor) });
      return leakIn(actor, result) ?? classify(actor, result, field, judging);
    },
  };
}

/** Streams opened by the subscription rows, closed when they are done. */
const openStreams: Array<Subscription<Data>> = [];

/**
 * ALLOWED when the server has set the stream up (`opened` counts up), and `confirm` holds if
 * given; DENIED when the stream ends with a denial error or the socket closes with 4401/4403.
 */
function subscriptionRow(
  field: string,
  allowed: readonly ActorName[],
  source: string,
  options: { target?: string; variables?: () => Record<string, unknown>; opened: () => number; confirm?: (stream: Subscription<Data>) => Promise<string | undefined> },
): Row {
  const document = gql(source);
  return {
    operation: `Subscription.${field}`,
    target: options.target,
    allowed,
    async probe(actor) {
      const before = options.opened();
      const stream = subscribe(server.wsUrl, w.tokens[actor], document, options.variables?.() ?? {});
      openStreams.push(stream);
      let end: { error?: unknown } | undefined;
      void stream.ended.then((ended) => (end = ended));
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        if (options.opened() > before) {
          const problem = await options.confirm?.(stream);
          return problem ? unexpected(problem) : 'ALLOWED';
        }
        if (end) {
          const closeCode = (end.error as { code?: unknown } | undefined)?.code;
          if (typeof closeCode === 'number') return DENIAL_CLOSE_CODES.has(closeCode) ? 'DENIED' : unexpected(`socket closed with ${closeCode}`);
          const codes = await stream.endCodes();
          return codes.length > 0 && codes.every((code) => DENIAL_ERRORS.has(code)) ? 'DENIED' : unexpected(`stream ended with [${codes.join(', ')}]`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return unexpected('the stream neither started nor was refused within 5 s');
    },
  };
}

// Fresh targets, so that a cell that changes something spoils no other.

/** A new patient's CARE_TEAM channel, activated by the colleague (who stays when others leave). */
async function freshCareChannel(): Promise<string> {
  const patient = await w.org.addPatient('Fresh Patient');
  return idIn(await perform(w.colleague.token, 'channelActivate', { patientId: patient.id, kind: 'CARE_TEAM' }), 'channel');
}
/** A new group like the fixture one: staffMM created it with staff, admin and the patient. */
async function freshGroup(): Promise<string> {
  const input = { title: 'Fresh group', teamMemberIds: [w.ids.staff, w.ids.admin], patientIds: [w.ids.patient] };
  return idIn(await perform(w.tokens.staffMM, 'groupChannelCreate', input), 'channel');
}
/** A patient added to the fixture group, and their membership id there. */
const removableGroupMember = once(async () => {
  const patient = await w.org.addPatient('Removable Patient');
  await perform(w.tokens.staffMM, 'channelMembersAdd', { channelId: w.groupId, patientIds: [patient.id] });
  const members = gql('query ($id: ID!) { channel(id: $id) { members(first: 100) { edges { node { id patient { id } } } } } }');
  const result = await request(server.url, w.tokens.staffMM, members, { id: w.groupId });
  const channel = result.data?.channel as { members: { edges: Array<{ node: { id: string; patient: { id: string } | null } }> } };
  return channel.members.edges.find((edge) => edge.node.patient?.id === patient.id)!.node.id;
});
const archivableTeamMember = once(() => w.org.addStaff('Archivable Member'));

const CHANNEL_BY_ID = 'query ($id: ID!) { channel(id: $id) { id kind } }';
const byId = (id: () => string) => () => ({ id: id() });
const care = () => w.careChannelId;
const message = { body: 'matrix probe' };
const freshTemplate = async () => idIn(await perform(w.tokens.admin, 'messageTemplateCreate', { name: `T ${randomUUID()}`, body: 'Hi' }), 'messageTemplate');
const freshStaffMessage = async () => idIn(await perform(w.tokens.staff, 'messageSend', { channelId: care(), body: 'to be changed' }), 'message');
const conversation = { title: 'Matrix conversation', body: 'Hello' };
const freshDeviceOfPatient = async () =>
  idIn(await perform(w.tokens.patient, 'pushSubscriptionRegister', { mobile: { platform: 'ANDROID', token: `matrix-${randomUUID()}` } }), 'pushSubscription');

/** A webhook endpoint of this organisation (off: nothing is sent during the matrix) and one delivery in its log. */
const webhook = { url: 'http://93.184.215.14/hooks', eventTypes: ['MESSAGE_SENT'], enabled: false };
const freshWebhook = async () => idIn(await perform(w.tokens.admin, 'webhookEndpointCreate', webhook), 'webhookEndpoint');
/** One endpoint for the cells that change it without removing it (an organisation has at most 20). */
const sharedWebhook = once(freshWebhook);
let webhookFixture: { endpointId: string; deliveryId: string } | undefined;
const webhookWithDelivery = once(async () => {
  const endpointId = await freshWebhook();
  const [{ id }] = await server.orm.em.fork().execute<Array<{ id: string }>>(
    `insert into webhook_delivery (organisation_id, endpoint_id, event_id, event_type, occurred_at, data, status)
     values (?, ?, 'evt_matrix', 'MESSAGE_SENT', now(), '{}'::jsonb, 'DEAD') returning id`,
    [w.org.id, endpointId],
  );
  return { endpointId, deliveryId: id };
});

const PDF = Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');
/** A file the integration uploaded for the chart, READY. */
async function freshChartFile(): Promise<string> {
  const started = await perform(w.tokens.service, 'attachmentCreateUpload', { fileName: 'result.pdf', contentType: 'application/pdf', size: PDF.length, purpose: 'CHART_DOCUMENT' });
  const uploadUrl = started.uploadUrl as string;
  const response = await fetch(`${new URL(server.url).origin}${uploadUrl}`, { method: 'PUT', body: PDF });
  if (response.status !== 200) throw new Error(`setup: chart upload answered ${response.status}`);
  return idIn(started, 'attachment');
}
/** A new document of the patient's chart. */
const freshChartDocument = async () =>
  idIn(await perform(w.tokens.service, 'chartDocumentRegister', { patientId: w.ids.patient, attachmentId: await freshChartFile(), title: 'Matrix result', kind: 'LAB_RESULT', clinicalDate: '2026-11-01T00:00:00.000Z' }), 'chartDocument');
/** A chart file others name when refused (never registered by them). */
const chartFileForRefusals = once(freshChartFile);
/** One document of the patient's chart, made on first use. */
const chartDocument = once(freshChartDocument);

const ROWS: Row[] = [
  // ---- Queries
  queryRow('me', ACTORS, '{ me { __typename ... on TeamMember { id } ... on Patient { id } } }', {
    check: (actor, value) => {
      const me = value as { __typename: string; id?: string };
      const typename = { operator: 'Operator', service: 'ServiceClient', staff: 'TeamMember', patient: 'Patient' }[ROLE[actor]];
      return me.__typename !== typename || me.id !== w.ids[actor] ? `me is ${JSON.stringify(me)}` : undefined;
    },
  }),
  // Errors only: each person lists their own channels (none for otherPatient; their own organisation's for foreignStaff).
  queryRow('channels', PEOPLE, '{ channels(first: 100) { edges { node { id } } } }'),
  queryRow('badgeCount', PEOPLE, '{ badgeCount }'),
  queryRow('channel', MEMBERS, CHANNEL_BY_ID, { target: 'CARE_TEAM', variables: byId(care) }),
  // Any team member of the organisation may find a patient's STAFF channel (to join it); patients never.
  queryRow('channel', STAFF, CHANNEL_BY_ID, { target: 'STAFF', variables: byId(() => w.staffChannelId) }),
  // Members only: staff, admin and the patient; guardians are not added to groups.
  queryRow('channel', [...STAFF, 'patient'], CHANNEL_BY_ID, { target: 'GROUP', variables: byId(() => w.groupId) }),
  // staffMM and admin are not members, but any team member may find a patient's conversation (to join it).
  // A conversation is addressed: staffMM is not in it and cannot find it; a messaging admin can (to staff one left unanswered).
  queryRow('channel', ['staff', 'admin', 'patient', 'guardian'], CHANNEL_BY_ID, { target: 'CONVERSATION', variables: byId(() => w.conversationId) }),
  // A conversation the patient started: every team member answers patients here (all respond, the
  // default), so each finds it and reads it to answer (responders.ts); the patient and guardian are in it.
  queryRow('channel', [...STAFF, 'patient', 'guardian'], CHANNEL_BY_ID, { target: 'CONVERSATION a patient started', variables: byId(() => w.unstaffedId) }),
  queryRow('channel', [...STAFF, 'patient', 'guardian'], 'query ($id: ID!) { channel(id: $id) { messages(last: 5) { edges { node { id } } } } }', {
    target: 'its messages',
    variables: byId(() => w.unstaffedId),
    items: (value) => (value as { messages: Connection }).messages.edges,
  }),
  queryRow('message', MEMBERS, 'query ($id: ID!) { message(id: $id) { id } }', { target: 'in CARE_TEAM', variables: byId(() => w.careMessageId) }),
  // Its role group (staffMM), its author (not an actor) and messaging admins; other staff get what a random id gets.
  queryRow('message', ['staffMM', 'admin'], 'query ($id: ID!) { message(id: $id) { id } }', { target: 'note addressed to Billing', variables: byId(() => w.addressedNoteId) }),
  // What notes can be addressed to; foreignStaff gets their own organisation's.
  queryRow('roleGroups', [...STAFF, 'service', 'foreignStaff'], '{ roleGroups }'),
  // Staff find other clinics (errors only: each sees the clinics that accept conversations but their own).
  queryRow('clinicDirectory', [...STAFF, 'foreignStaff'], '{ clinicDirectory { edges { node { slug name } } } }'),
  // Incoming handovers: those who answer patients (every team member here, all respond) and messaging admins; foreignStaff their own organisation's.
  queryRow('handovers', [...STAFF, 'foreignStaff'], '{ handovers(direction: INCOMING) { edges { node { id } } } }'),
  // The chart: staff and the integration; patients never; foreignStaff finds nothing of this organisation's patient.
  queryRow('chartDocuments', [...STAFF, 'service'], 'query ($id: ID!) { chartDocuments(patientId: $id) { edges { node { id } } } }', {
    target: "the patient's",
    variables: byId(() => w.ids.patient!),
    items: edgesOf,
  }),
  // The messages in the patient's chart: any team member (the CARE_TEAM and STAFF channels are theirs to join); foreignStaff finds nothing.
  queryRow('patientMessages', STAFF, 'query ($id: ID!) { patientMessages(patientId: $id) { edges { node { id } } } }', { target: "the patient's", variables: byId(() => w.ids.patient!), items: edgesOf }),
  // Search answers everyone with a person's token about their own channels: only members find the CARE_TEAM message.
  queryRow('messageTemplates', [...STAFF, 'foreignStaff'], '{ messageTemplates { id } }', { target: 'their organisation’s' }),
  queryRow('messageSearch', MEMBERS, '{ messageSearch(query: "hello care team") { edges { node { id } } } }', { target: 'the CARE_TEAM message', items: edgesOf }),
  // Staff see any patient of their organisation; a patient themself; a guardian their dependant.
  queryRow('patient', MEMBERS, 'query ($id: ID!) { patient(id: $id) { id } }', { target: 'the patient', variables: byId(() => w.ids.patient!) }),
  // foreignStaff: their own organisation's settings (ALLOWED), never this one's (patients may start here, not there).
  queryRow('messagingSettings', [...STAFF, 'service', 'foreignStaff'], '{ messagingSettings { patientsCanStartConversations } }', {
    check: (actor, value) =>
      (value as { patientsCanStartConversations: boolean }).patientsCanStartConversations !== (actor !== 'foreignStaff') ? "another organisation's settings" : undefined,
  }),
  // foreignStaff: their own organisation's rules (ALLOWED); this one's names admin, a hidden id for them.
  queryRow('activationRules', [...STAFF, 'service', 'foreignStaff'], '{ activationRules { kind teamMembers { id } } }'),
  // MESSAGING_ADMIN. foreignStaff is an admin of their own organisation: they read its log (ALLOWED),
  // which must name none of this organisation's people (the hidden ids).
  // Who opened the patient's messages: the patient, their guardian, messaging admins; foreignStaff's organisation has no such patient.
  queryRow('accessLog', ['admin', 'patient', 'guardian'], 'query ($id: ID) { accessLog(patientId: $id) { edges { node { accessorName } } } }', {
    target: "the patient's",
    variables: () => ({ id: w.ids.patient }),
    items: edgesOf,
  }),
  // Patients waiting for a reply: any team member (their own channels, or all they may see); never patients or integrations (errors only: contents in escalation.test.ts).
  queryRow('responsesDue', [...STAFF, 'foreignStaff'], '{ responsesDue(scope: ORGANISATION) { edges { node { dueAt channel { id } } } } }'),
  // Webhooks: messaging admins and the integration; foreignStaff (an admin elsewhere) lists their own organisation's, finds none of this one's deliveries.
  queryRow('webhookEndpoints', ['admin', 'service', 'foreignStaff'], '{ webhookEndpoints { id url } }'),
  queryRow('webhookDeliveries', ['admin', 'service'], 'query ($id: ID!) { webhookDeliveries(endpointId: $id) { edges { node { id eventId status } } } }', {
    target: "this organisation's endpoint",
    variables: () => ({ id: webhookFixture?.endpointId }),
    items: edgesOf,
  }),
  queryRow('auditEvents', ['admin', 'foreignStaff'], '{ auditEvents(first: 100) { edges { node { actorId } } } }', { items: edgesOf }),
  // MESSAGING_ADMIN. foreignStaff sees their own organisation's unstaffed channel, none of this one's.
  queryRow('unstaffedChannels', ['admin', 'foreignStaff'], '{ unstaffedChannels(first: 100) { edges { node { id } } } }', {
    items: edgesOf,
    check: (actor, value) =>
      actor === 'admin' && !edgesOf(value).some((edge) => edge.node.id === w.unstaffedId) ? 'the unstaffed conversation is not listed' : undefined,
  }),

  // Staff. Every team member here answers patients (all respond, the default), so each lists the
  // conversation the patient started; foreignStaff lists their own organisation's, none of this one's.
  queryRow('incomingConversations', [...STAFF, 'foreignStaff'], '{ incomingConversations(first: 100) { edges { node { channel { id } } } } }', {
    items: edgesOf,
    check: (actor, value) =>
      actor !== 'foreignStaff' && !edgesOf(value).some((edge) => (edge.node as unknown as { channel: { id: string } }).channel.id === w.unstaffedId) ? 'the patient-started conversation is not listed' : undefined,
  }),

  // Notifications: everyone's own preferences and devices; a patient's preferences for staff of
  // their organisation, themselves and their guardian (null for anyone else).
  queryRow('notificationPreferences', PEOPLE, '{ notificationPreferences { email } }', { target: 'their own' }),
  queryRow('notificationPreferences', [...STAFF, 'patient', 'guardian'], 'query ($id: ID) { notificationPreferences(patientId: $id) { email } }', {
    target: 'the patient',
    variables: () => ({ id: w.ids.patient }),
  }),
  queryRow('webPushPublicKey', PEOPLE, '{ webPushPublicKey }'),
  // MESSAGING_ADMIN; foreignStaff reads their own organisation's.
  queryRow('notificationTemplates', ['admin', 'foreignStaff'], '{ notificationTemplates { kind } }', { target: 'their organisation’s' }),

  // ---- Subscriptions (the typist, a member who is no actor, confirms each typing stream with a notice)
  subscriptionRow('channelEvents', MEMBERS, 'subscription ($channelId: ID!) { channelEvents(channelId: $channelId) { type } }', {
    target: 'CARE_TEAM',
    variables: () => ({ channelId: care() }),
    opened: () => server.deps.live.streamCount,
  }),
  // Everyone with a person's token follows their own inbox.
  subscriptionRow('inboxEvents', PEOPLE, 'subscription { inboxEvents { type } }', { opened: () => server.deps.live.streamCount }),
  subscriptionRow('typing', MEMBERS, 'subscription ($channelId: ID!) { typing(channelId: $channelId) { channelId } }', {
    target: 'CARE_TEAM',
    variables: () => ({ channelId: care() }),
    opened: () => server.deps.live.typingStreamCount(care()),
    confirm: async (stream) => {
      await perform(w.colleague.token, 'typingStart', { channelId: care() });
      const notice = await stream.next(3000).catch((error: Error) => ({ errors: [error], data: undefined }));
      return notice.data?.typing ? undefined : `no typing notice arrived (${JSON.stringify(notice.errors)})`;
    },
  }),

  // ---- Mutations. Refused cells run first, the allowed ones last (see runRow).
  mutationRow('organisationCreate', ['operator'], () => ({ slug: `m-${randomUUID().slice(0, 12)}`, name: 'Matrix Organisation' })),
  mutationRow('teamMemberUpsert', ['service'], () => ({ externalId: `matrix-${randomUUID()}`, name: 'Matrix Member' })),
  mutationRow('patientUpsert', ['service'], () => ({ externalId: `matrix-${randomUUID()}`, name: 'Matrix Patient' })),
  mutationRow('teamMemberArchive', ['service'], async () => ({ teamMemberId: (await archivableTeamMember()).id }), 'a fresh team member'),
  // foreignStaff: NOT_FOUND, the patient is not in their organisation.
  mutationRow('channelActivate', STAFF, once(async () => ({ patientId: (await w.org.addPatient('Activation Patient')).id, kind: 'CARE_TEAM' })), 'a fresh patient'),
  mutationRow('channelJoin', STAFF, once(async () => ({ channelId: await freshCareChannel() })), 'a fresh CARE_TEAM'),
  mutationRow('directChannelOpen', STAFF, () => ({ teamMemberIds: [w.colleague.id] }), 'with the colleague'),
  // MESSAGING_MANAGEMENT: staff and admin (a MESSAGING_ADMIN only) are FORBIDDEN; foreignStaff names foreign people (NOT_FOUND).
  mutationRow('groupChannelCreate', ['staffMM'], () => ({ title: 'Matrix group', teamMemberIds: [w.ids.staff], patientIds: [w.ids.patient] })),
  // Staff and admin are members of the group but lack MESSAGING_MANAGEMENT (FORBIDDEN).
  mutationRow('channelMembersAdd', ['staffMM'], () => ({ channelId: w.groupId, teamMemberIds: [w.colleague.id] }), 'GROUP'),
  mutationRow('channelMemberRemove', ['staffMM'], async () => ({ channelId: w.groupId, memberId: await removableGroupMember() }), 'GROUP patient'),
  // Team members leave a fresh channel they joined (the colleague stays). The patient and guardian
  // of a CARE_TEAM channel cannot leave it: PATIENT_CANNOT_LEAVE, the rule working (DENIED).
  mutationRow(
    'channelLeave',
    STAFF,
    async (actor) => {
      if (!STAFF.includes(actor)) return { channelId: care() };
      const channelId = await freshCareChannel();
      await perform(w.tokens[actor], 'channelJoin', { channelId });
      return { channelId };
    },
    'CARE_TEAM',
  ),
  // Members of a group, patients included, may leave it; the guardian is not a member (NOT_FOUND).
  mutationRow('channelLeave', [...STAFF, 'patient'], async () => ({ channelId: await freshGroup() }), 'a fresh GROUP'),
  // Per member: archiving, muting and marking read change only the caller's own membership.
  mutationRow('channelArchive', MEMBERS, () => ({ channelId: care() }), 'CARE_TEAM'),
  mutationRow('channelUnarchive', MEMBERS, () => ({ channelId: care() }), 'CARE_TEAM'),
  mutationRow('channelMute', MEMBERS, () => ({ channelId: care() }), 'CARE_TEAM'),
  mutationRow('channelUnmute', MEMBERS, () => ({ channelId: care() }), 'CARE_TEAM'),
  mutationRow('channelMarkRead', MEMBERS, () => ({ channelId: care(), messageId: w.careMessageId }), 'CARE_TEAM'),
  mutationRow('messageSend', MEMBERS, () => ({ channelId: care(), ...message }), 'CARE_TEAM'),
  // Every team member answers patients here (all respond): answering a conversation the patient
  // started joins them; the patient and guardian are in it; nobody else reaches it.
  mutationRow('messageSend', MEMBERS, () => ({ channelId: w.answerableId, ...message }), 'CONVERSATION a patient started'),
  // Any team member of the channel addresses a note to a role group someone holds; patients write no notes (FORBIDDEN).
  mutationRow('messageSend', STAFF, () => ({ channelId: care(), body: 'matrix note', internal: true, audienceRoles: ['Billing'] }), 'CARE_TEAM note addressed to Billing'),
  mutationRow('typingStart', MEMBERS, () => ({ channelId: care() }), 'CARE_TEAM'),
  // A fresh message by the `staff` actor each time: its author and MESSAGING_MANAGEMENT may change it; the admin (no MM) and patients may not.
  mutationRow('messageEdit', ['staff', 'staffMM'], async () => ({ messageId: await freshStaffMessage(), body: 'edited' }), "staff's message"),
  mutationRow('messageDelete', ['staff', 'staffMM'], async () => ({ messageId: await freshStaffMessage() }), "staff's message"),
  mutationRow('reactionAdd', MEMBERS, () => ({ messageId: w.careMessageId, emoji: '👍' }), 'CARE_TEAM message'),
  mutationRow('reactionAdd', ['staffMM', 'admin'], () => ({ messageId: w.addressedNoteId, emoji: '👍' }), 'note addressed to Billing'),
  mutationRow('reactionRemove', MEMBERS, () => ({ messageId: w.careMessageId, emoji: '👍' }), 'CARE_TEAM message'),
  // Staff upload anywhere (foreignStaff into their own organisation); patients only where the settings allow it (not here).
  // Templates: messaging admins manage them (foreignStaff creates in their own organisation, finds none of this one's).
  // Webhooks: messaging admins and the integration (foreignStaff registers in their own organisation, finds none of this one's).
  mutationRow('webhookEndpointCreate', ['admin', 'service', 'foreignStaff'], () => webhook, 'a new endpoint'),
  mutationRow('webhookEndpointUpdate', ['admin', 'service'], async () => ({ endpointId: await sharedWebhook(), description: 'Changed' }), "this organisation's endpoint", { oneOf: ['webhookEndpoint', 'secret'] }),
  mutationRow('webhookEndpointDelete', ['admin', 'service'], async (actor) => ({ endpointId: actor === 'admin' || actor === 'service' ? await freshWebhook() : await sharedWebhook() }), "this organisation's endpoint", { oneOf: ['webhookEndpoint', 'secret'] }),
  mutationRow('webhookEndpointRotateSecret', ['admin', 'service'], async () => ({ endpointId: await sharedWebhook() }), "this organisation's endpoint"),
  mutationRow('webhookDeliveryReplay', ['admin', 'service'], async () => ({ deliveryId: (await webhookWithDelivery()).deliveryId }), "this organisation's delivery"),
  mutationRow('messageTemplateCreate', ['admin', 'foreignStaff'], () => ({ name: `T ${randomUUID()}`, body: 'Hello {{patient.firstName}}' }), 'a new template'),
  mutationRow('messageTemplateUpdate', ['admin'], async () => ({ templateId: await freshTemplate(), body: 'Changed' }), "this organisation's template"),
  mutationRow('messageTemplateDelete', ['admin'], async () => ({ templateId: await freshTemplate() }), "this organisation's template"),
  // ...and the integration, a file for the chart (what it uploads by default).
  mutationRow('attachmentCreateUpload', [...STAFF, 'service', 'foreignStaff'], () => ({ fileName: 'scan.pdf', contentType: 'application/pdf', size: 100 }), 'a PDF'),
  mutationRow('attachmentCreateUpload', ['service'], () => ({ fileName: 'scan.pdf', contentType: 'application/pdf', size: 100, purpose: 'CHART_DOCUMENT' }), 'a chart file'),
  // The chart is the integration's to manage.
  mutationRow(
    'chartDocumentRegister',
    ['service'],
    async (actor) => ({ patientId: w.ids.patient, attachmentId: actor === 'service' ? await freshChartFile() : await chartFileForRefusals(), title: 'Result', kind: 'LAB_RESULT', clinicalDate: '2026-11-01T00:00:00.000Z' }),
    "the patient's",
  ),
  mutationRow('chartDocumentUpdate', ['service'], async () => ({ chartDocumentId: await chartDocument(), title: 'Renamed result' }), "the patient's"),
  mutationRow('chartDocumentWithdraw', ['service'], async () => ({ chartDocumentId: await freshChartDocument(), reason: 'Matrix' }), "the patient's"),
  // Staff attach the patient's chart documents in the patient's channels; patients attach none (FORBIDDEN); foreignStaff cannot reach the channel.
  mutationRow('messageSend', STAFF, async () => ({ channelId: care(), body: 'Your result', chartDocumentIds: [await chartDocument()] }), 'CARE_TEAM with a chart document'),
  // Everyone names the patient: staff (settings let all staff start), the patient themself, the
  // guardian their dependant; otherPatient is not the patient's guardian (NOT_FOUND).
  mutationRow('conversationStart', MEMBERS, () => ({ patientId: w.ids.patient, ...conversation }), 'naming the patient'),
  // Patients omit patientId and start their own conversation (settings let patients start): otherPatient too.
  mutationRow(
    'conversationStart',
    [...MEMBERS, 'otherPatient'],
    (actor) => ({ ...(ROLE[actor] === 'patient' ? {} : { patientId: w.ids.patient }), ...conversation }),
    'patients: their own',
  ),
  // Staff (the settings let all of them start) start a conversation with the foreign clinic, which accepts them; foreignStaff cannot start one with their own (NOT_FOUND).
  mutationRow('clinicConversationStart', STAFF, () => ({ clinicSlug: w.foreignSlug, title: 'Referral', body: 'Could you see our patient?' }), 'the foreign clinic'),
  // A member of the patient conversation hands it over to the foreign clinic (staffMM and admin are not members: NOT_FOUND).
  mutationRow(
    'conversationHandover',
    ['staff'],
    () => ({ channelId: w.conversationId, clinicSlug: w.foreignSlug, messageIds: [w.conversationMessageId], consent: { obtainedAt: '2026-11-30T10:00:00.000Z', method: 'VERBAL' } }),
    'CONVERSATION',
  ),
  // Those who answer patients decide incoming handovers (the second to accept or decline finds it decided the same way); foreignStaff's organisation has no such handover (NOT_FOUND).
  mutationRow('handoverAccept', STAFF, () => ({ handoverId: w.handoverToAcceptId, createPatient: true }), 'from the foreign clinic'),
  mutationRow('handoverDecline', STAFF, () => ({ handoverId: w.handoverToDeclineId, reason: 'Not for us' }), 'from the foreign clinic'),
  // Staff members of the conversation only: staffMM and admin have not joined it (NOT_FOUND).
  mutationRow('conversationClose', ['staff'], () => ({ channelId: w.conversationId }), 'CONVERSATION'),
  mutationRow('conversationReopen', ['staff'], () => ({ channelId: w.conversationId }), 'CONVERSATION'),
  mutationRow('conversationUpdate', ['staff'], () => ({ channelId: w.conversationId, title: 'Renamed' }), 'CONVERSATION'),
  // MESSAGING_ADMIN. foreignStaff administers their own organisation only: naming this one's team
  // members is NOT_FOUND.
  mutationRow('messagingSettingsUpdate', ['admin'], () => ({ patientsCanStartConversations: true, responderTeamMemberIds: [w.ids.staff] })),
  mutationRow('activationRuleUpdate', ['admin'], () => ({ kind: 'SERVICE_TEAM', autoActivate: false, teamMemberIds: [w.ids.admin] })),
  mutationRow('notificationPreferencesUpdate', PEOPLE, () => ({ push: true }), 'their own'),
  mutationRow('notificationPreferencesUpdate', [...STAFF, 'patient', 'guardian'], () => ({ patientId: w.ids.patient, push: true }), 'the patient'),
  mutationRow('pushSubscriptionRegister', PEOPLE, () => ({ mobile: { platform: 'IOS', token: `matrix-${randomUUID()}` } }), 'their own device'),
  mutationRow('pushSubscriptionRemove', ['patient'], async () => ({ pushSubscriptionId: await freshDeviceOfPatient() }), "the patient's device"),
  // MESSAGING_ADMIN; foreignStaff changes their own organisation's templates.
  mutationRow('notificationTemplateUpdate', ['admin', 'foreignStaff'], () => ({ kind: 'PATIENT_SMS', text: 'New message: {{link}}' }), 'their organisation’s'),
  mutationRow('notificationTemplateReset', ['admin', 'foreignStaff'], () => ({ kind: 'PATIENT_SMS' }), 'their organisation’s'),
  // One's own profile: patients and team members (clearing the avatar); services and operators have none.
  mutationRow('profileUpdate', PEOPLE, () => ({ avatarAttachmentId: null }), undefined, { oneOf: ['patient', 'teamMember'] }),
];

// ---------------------------------------------------------------------------------------------
// Running and reporting

interface Cell {
  row: Row;
  actor: ActorName;
  expected: Verdict;
  actual: Outcome;
}

async function runCell(row: Row, actor: ActorName): Promise<Cell> {
  const actual = await row.probe(actor).catch((error: Error) => unexpected(`threw ${error.message}`));
  return { row, actor, expected: row.allowed.includes(actor) ? 'ALLOWED' : 'DENIED', actual };
}

/**
 * Queries: every cell at once. Subscriptions: one cell at a time (each is judged by a stream
 * count going up). Mutations: the refused cells first, then the allowed ones, so a refusal is
 * always judged on an untouched target.
 */
async function runRow(row: Row): Promise<Cell[]> {
  switch (kindOf(row)) {
    case 'Query':
      return Promise.all(ACTORS.map((actor) => runCell(row, actor)));
    case 'Subscription': {
      const cells: Cell[] = [];
      for (const actor of ACTORS) cells.push(await runCell(row, actor));
      return cells;
    }
    case 'Mutation': {
      const refused = await Promise.all(ACTORS.filter((actor) => !row.allowed.includes(actor)).map((actor) => runCell(row, actor)));
      const allowed = await Promise.all(row.allowed.map((actor) => runCell(row, actor)));
      return ACTORS.map((actor) => [...refused, ...allowed].find((cell) => cell.actor === actor)!);
    }
  }
}

const failed = (cell: Cell) => cell.actual !== cell.expected;

function renderMatrix(cells: Cell[]): string {
  const text = (cell: Cell) => {
    if (!failed(cell)) return cell.actual === 'ALLOWED' ? 'allowed' : 'denied';
    return typeof cell.actual === 'string' ? `✗ ${cell.actual.toLowerCase()}` : '✗ other';
  };
  const labels = [...new Set(cells.map((cell) => labelOf(cell.row)))];
  const first = Math.max(...labels.map((label) => label.length)) + 2;
  const line = (label: string, columns: string[]) => label.padEnd(first) + columns.map((column) => column.padEnd(14)).join('');
  const table = [line('', [...ACTORS]), ...labels.map((label) => line(label, ACTORS.map((actor) => text(cells.find((c) => labelOf(c.row) === label && c.actor === actor)!))))];
  const details = cells.filter(failed).map((cell) => {
    const actual = typeof cell.actual === 'string' ? cell.actual : `neither ALLOWED nor DENIED: ${cell.actual.unexpected}`;
    return `  ${labelOf(cell.row)} × ${cell.actor}: expected ${cell.expected}, got ${actual}`;
  });
  return [
    'The authorization matrix differs from the expected one (✗ marks a cell whose actual outcome differs; "other" is neither ALLOWED nor DENIED):',
    '',
    ...table,
    '',
    'Failing cells:',
    ...details,
  ].join('\n');
}

describe('authorization matrix', () => {
  it('has a row for every root field of the schema, and none for a field that no longer exists', () => {
    const inSchema = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((root) =>
      root ? Object.keys(root.getFields()).map((field) => `${root.name}.${field}`) : [],
    );
    const inMatrix = new Set(ROWS.map((row) => row.operation));
    expect({ withoutRow: inSchema.filter((operation) => !inMatrix.has(operation)), notInSchema: [...inMatrix].filter((operation) => !inSchema.includes(operation)) }).toEqual({
      withoutRow: [],
      notInSchema: [],
    });
  });

  it('refuses every mutation over a WebSocket, whoever sends it (mutations go over HTTP POST): nothing changes', async () => {
    const mutations = [...new Set(ROWS.filter((row) => kindOf(row) === 'Mutation').map((row) => row.operation.split('.')[1]))];
    const answers = await Promise.all(
      mutations.map(async (field) => {
        const result = await requestOverSocket(server.wsUrl, w.tokens.admin, mutationDocument(field), { input: {} });
        return `${field}: ${errorCodes(result).join(',')}${result.data ? ' with data' : ''}`;
      }),
    );
    expect(answers).toEqual(mutations.map((field) => `${field}: BAD_REQUEST`));
  });

  it('answers every caller of every operation as the matrix says', async () => {
    const queries = (await Promise.all(ROWS.filter((row) => kindOf(row) === 'Query').map(runRow))).flat();
    const subscriptions: Cell[] = [];
    try {
      for (const row of ROWS.filter((r) => kindOf(r) === 'Subscription')) subscriptions.push(...(await runRow(row)));
    } finally {
      await Promise.all(openStreams.map((stream) => stream.close()));
    }
    const mutations: Cell[] = [];
    for (const row of ROWS.filter((r) => kindOf(r) === 'Mutation')) mutations.push(...(await runRow(row)));

    const cells = [...queries, ...subscriptions, ...mutations];
    if (cells.some(failed) || process.env.MATRIX_SHOW) throw new Error(renderMatrix(cells));
  });
});
