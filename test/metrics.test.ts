import { randomUUID } from 'node:crypto';
import { startTestServer, type TestServer } from './support/server';
import { createOwnDatabase, type OwnDatabase } from './support/database';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { eventually, ok, request, subscribe } from './support/client';
import { actions } from './support/actions';
import { ChannelEventsDocument, MeDocument, MessageSearchDocument, NotificationSettingsUpdateDocument } from './generated/graphql';

/**
 * What an operator scrapes: Prometheus metrics on a port of their own, or at /metrics of the API
 * port for the bearer of METRICS_TOKEN, with names and codes in labels and never an id.
 */
const TOKEN = `metrics-${randomUUID()}`;
let server: TestServer;
let database: OwnDatabase;
let org: TestOrganisation;
let clinician: Person;

beforeAll(async () => {
  // A database of its own: this file runs a notification worker, which must not take other files' notices.
  database = await createOwnDatabase('metrics');
  server = await startTestServer(
    {
      METRICS_TOKEN: TOKEN,
      METRICS_PORT: '0',
      NOTIFICATION_WORKER: 'true',
      NOTIFICATION_POLL_MS: '50',
      RATE_LIMITS: JSON.stringify({ search: { person: '2/60' } }),
    },
    undefined,
    { databaseUrl: database.url },
  );
  org = await createOrganisation(server);
  clinician = await org.addStaff('Dr Metrics', ['MESSAGING_ADMIN']);
});
afterAll(async () => {
  await server.close();
  await database.drop();
});

const { activate, post } = actions(() => server);

const scrape = async (url = server.url.replace('/graphql', '/metrics'), token: string | undefined = TOKEN) => {
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: response.status, text: await response.text() };
};
/** The value of one series of the scrape (0 when absent). */
const valueOf = (text: string, series: string) => {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
};

it('denied: /metrics of the API port without the token, or with another, answers 404; with it, the metrics', async () => {
  expect((await scrape(undefined, '')).status).toBe(404);
  expect((await scrape(undefined, `${TOKEN}-not`)).status).toBe(404);
  const allowed = await scrape();
  expect(allowed.status).toBe(200);
  expect(allowed.text).toContain('# TYPE care_messaging_operation_duration_seconds histogram');
  // Its own port needs no token (it is meant for the private network only).
  expect((await scrape(server.metricsUrl, '')).status).toBe(200);
});

it('counts operations by name and outcome, sockets and subscriptions, event lag, outboxes, notification outcomes and rate-limit refusals, and holds no id', async () => {
  const updated = await ok(server.url, clinician.token, NotificationSettingsUpdateDocument, { input: { staffNotificationDelayMinutes: 0, patientNotificationDelayMinutes: 0 } });
  expect(updated.messagingSettingsUpdate.userErrors).toEqual([]);
  const patient = await org.addPatient('Metric Patient', { email: `metric-${randomUUID().slice(0, 8)}@patients.example` });
  const channel = await activate(clinician, patient);
  const anchor = await post(clinician, channel.id, 'anchor');
  for (let index = 0; index < 3; index += 1) await ok(server.url, clinician.token, MeDocument, {});

  const stream = subscribe(server.wsUrl, patient.token, ChannelEventsDocument, { channelId: channel.id, after: anchor.cursor });
  await eventually(async () => valueOf((await scrape()).text, 'care_messaging_subscriptions') === 1);
  await post(clinician, channel.id, 'measured');
  expect((await stream.next()).data?.channelEvents.message?.body).toBe('measured');
  // Search is limited to two a minute here: the third is refused.
  for (let index = 0; index < 3; index += 1) await request(server.url, clinician.token, MessageSearchDocument, { query: 'measured' });
  await eventually(async () => valueOf((await scrape()).text, 'care_messaging_notifications_total{transport="EMAIL",outcome="SENT"}') >= 1);

  const during = (await scrape()).text;
  expect(valueOf(during, 'care_messaging_operation_duration_seconds_count{transport="http",type="query",operation="Me",outcome="ok"}')).toBeGreaterThanOrEqual(3);
  expect(valueOf(during, 'care_messaging_websocket_connections')).toBe(1);
  expect(valueOf(during, 'care_messaging_event_lag_seconds_count')).toBeGreaterThanOrEqual(1);
  expect(valueOf(during, 'care_messaging_rate_limit_refusals_total{action="search"}')).toBe(1);
  expect(during).toMatch(/^care_messaging_outbox_depth\{outbox="notifications"\} \d+$/m);
  expect(during).toMatch(/^care_messaging_outbox_depth\{outbox="clinic_envelopes"\} 0$/m);

  await stream.close();
  await eventually(async () => valueOf((await scrape()).text, 'care_messaging_websocket_connections') === 0);
  const after = (await scrape()).text;
  expect(valueOf(after, 'care_messaging_subscriptions')).toBe(0);
  for (const id of [org.id, clinician.id, patient.id, channel.id, anchor.id]) expect(after).not.toContain(id);
});
