import type { AppDeps } from '../graphql/context';
import { createContext } from '../graphql/context';
import type { Actor } from '../auth/actor';
import { Organisation } from '../modules/organisations/organisation.entity';
import { ChannelKind } from '../modules/channels/channel.entity';

export const DEMO_SLUG = 'demo';

export interface DemoUser {
  label: string;
  role: 'staff' | 'patient' | 'service' | 'operator';
  sub: string;
}

export const DEMO_USERS: DemoUser[] = [
  { label: 'Clinician with Messaging Management (Dr Amelia Hart)', role: 'staff', sub: 'clinician-amelia' },
  { label: 'Receptionist (Ravi Patel)', role: 'staff', sub: 'reception-ravi' },
  { label: 'Messaging admin (Grace Okafor)', role: 'staff', sub: 'admin-grace' },
  { label: 'Patient (Oliver Bennett)', role: 'patient', sub: 'patient-oliver' },
  { label: "Patient and guardian of Leo (Sofia Marin)", role: 'patient', sub: 'patient-sofia' },
  { label: 'Child patient (Leo Marin)', role: 'patient', sub: 'patient-leo' },
  { label: 'Directory-sync service', role: 'service', sub: 'demo-directory-sync' },
  { label: 'Platform operator', role: 'operator', sub: 'operator' },
];

/**
 * Creates the `demo` organisation once, through the same use cases the API runs, so the demo
 * data obeys every rule. Does nothing when it already exists.
 */
export async function seedDemo(deps: AppDeps): Promise<boolean> {
  if (await deps.orm.em.fork().findOne(Organisation, { slug: DEMO_SLUG })) return false;
  const expiresAt = Date.now() + 60_000;
  const as = (actor: Actor) => createContext(deps, actor, 'seed').services;

  const organisation = await as({ kind: 'operator', operatorId: 'seed', expiresAt }).organisations.create({ slug: DEMO_SLUG, name: 'Demo Health Clinic' });
  const service = as({ kind: 'service', organisationId: organisation.id, clientId: 'seed', expiresAt }).directory;
  const clinician = await service.upsertTeamMember({
    externalId: 'clinician-amelia', name: 'Dr Amelia Hart', email: 'amelia.hart@demo.example', roles: ['Clinician'], permissions: ['MESSAGING_MANAGEMENT'],
  });
  const ravi = await service.upsertTeamMember({
    externalId: 'reception-ravi', name: 'Ravi Patel', email: 'ravi.patel@demo.example', roles: ['Reception', 'Appointment Reminder Admin'],
  });
  const grace = await service.upsertTeamMember({
    externalId: 'admin-grace', name: 'Grace Okafor', email: 'grace.okafor@demo.example', roles: ['Practice Manager'], permissions: ['MESSAGING_ADMIN'],
  });
  await as({ kind: 'staff', organisationId: organisation.id, teamMemberId: grace.id, permissions: grace.permissions, roles: grace.roles, expiresAt }).messagingSettings.update({
    patientsCanStartConversations: true,
    // Notices go out at once in the demo, so mail lands in the mail folder (or SMTP) while you watch.
    staffNotificationDelayMinutes: 0,
    patientNotificationDelayMinutes: 0,
  });
  const oliver = await service.upsertPatient({
    externalId: 'patient-oliver', name: 'Oliver Bennett', email: 'oliver@patients.example', allocationClinicianId: clinician.id,
  });
  const leo = await service.upsertPatient({ externalId: 'patient-leo', name: 'Leo Marin', allocationClinicianId: clinician.id });
  const sofia = await service.upsertPatient({
    externalId: 'patient-sofia', name: 'Sofia Marin', email: 'sofia@patients.example', phone: '+44 7700 900123', guardianOfPatientIds: [leo.id],
  });

  const staff = as({ kind: 'staff', organisationId: organisation.id, teamMemberId: clinician.id, permissions: clinician.permissions, roles: clinician.roles, expiresAt });
  const careTeam = await staff.channels.activate({ patientId: oliver.id, kind: ChannelKind.CARE_TEAM });
  await staff.messages.send({ channelId: careTeam.id, body: 'Hello Oliver, this is **Dr Hart**. How are you feeling after your appointment?' });
  const staffChannel = await staff.channels.activate({ patientId: oliver.id, kind: ChannelKind.STAFF });
  await staff.messages.send({ channelId: staffChannel.id, body: 'Internal: review Oliver’s results before Friday.' });
  await as({ kind: 'patient', organisationId: organisation.id, patientId: oliver.id, expiresAt }).messages.send({
    channelId: careTeam.id, body: 'Much better, thank you!',
  });
  // Leo has no contact details of his own: his guardian Sofia reads and writes for him.
  const leoCareTeam = await staff.channels.activate({ patientId: leo.id, kind: ChannelKind.CARE_TEAM });
  await as({ kind: 'patient', organisationId: organisation.id, patientId: sofia.id, expiresAt }).messages.send({
    channelId: leoCareTeam.id, body: 'Leo has had a cough since Monday. Should we come in?',
  });
  await staff.conversations.start({
    patientId: oliver.id, title: 'Your blood test', body: 'Your blood test results are ready. Reply here with any questions.', recipientTeamMemberIds: [ravi.id],
  });
  return true;
}
