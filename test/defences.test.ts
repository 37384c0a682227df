import { startTestServer, type TestServer } from './support/server';
import { createOrganisation, type Person, type TestOrganisation } from './support/fixtures';
import { eventually, subscribe } from './support/client';
import { actions } from './support/actions';
import { ChannelEventsDocument, InboxEventsDocument } from './generated/graphql';
import { InProcessEventBus, type BusNotice } from '../src/realtime/bus';

/** A bus that loses every events notice, as a failed publish or a dropped connection would. */
class LossyBus extends InProcessEventBus {
  override async publish(notice: BusNotice): Promise<void> {
    if (notice.kind !== 'events') await super.publish(notice);
  }
}

let server: TestServer;
let org: TestOrganisation;
let clinician: Person;

beforeAll(async () => {
  server = await startTestServer({ LIVE_POLL_MS: '200' }, new LossyBus());
  org = await createOrganisation(server);
  clinician = await org.addStaff('Dr Defence');
});
afterAll(() => server.close());

const { activate, post } = actions(() => server);

it('a lost bus notice delays delivery, never loses it: feeds poll the organisation’s position', async () => {
  const patient = await org.addPatient('Poll Patient');
  const channel = await activate(clinician, patient, 'CARE_TEAM');
  const anchor = await post(clinician, channel.id, 'anchor');
  const stream = subscribe(server.wsUrl, patient.token, ChannelEventsDocument, { channelId: channel.id, after: anchor.cursor });
  await eventually(() => server.deps.live.streamCount > 0);
  await post(clinician, channel.id, 'no notice was published for this one');
  expect((await stream.next(3_000)).data?.channelEvents.message?.body).toBe('no notice was published for this one');
  await stream.close();
});

it('denied: a patient who somehow holds a membership of a staff channel still gets none of it in their inbox, live or replayed', async () => {
  const patient = await org.addPatient('Forged Member');
  const care = await activate(clinician, patient, 'CARE_TEAM');
  const staffChannel = await activate(clinician, patient, 'STAFF');
  // A row the API never writes (patients are never added to STAFF channels): defence in depth.
  await server.orm.em
    .fork()
    .execute('insert into channel_member (organisation_id, id, channel_id, patient_id, joined_seq) values (?, gen_random_uuid(), ?, ?, 0)', [org.id, staffChannel.id, patient.id]);
  const before = server.deps.live.streamCount;
  const inbox = subscribe(server.wsUrl, patient.token, InboxEventsDocument, {});
  await eventually(() => server.deps.live.streamCount > before);
  await post(clinician, staffChannel.id, 'staff only, about the patient');
  await post(clinician, care.id, 'for the patient');
  const live = (await inbox.next(3_000)).data!.inboxEvents;
  expect(live).toMatchObject({ channelId: care.id, message: { body: 'for the patient' } });
  await inbox.expectSilence(500);
  await inbox.close();

  // Replayed from the database: a staff-channel message and a care-team one; only the latter comes.
  await post(clinician, staffChannel.id, 'staff only, again');
  await post(clinician, care.id, 'first');
  const replay = subscribe(server.wsUrl, patient.token, InboxEventsDocument, { after: live.cursor });
  const replayed = await replay.next(3_000);
  expect(replayed.errors).toBeUndefined();
  expect(replayed.data!.inboxEvents.message?.body).toBe('first');
  await replay.expectSilence(500);
  await replay.close();
});
