import type { EntityManager } from '@mikro-orm/postgresql';
import type { EventLogTransaction } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import { uuidArray } from '../../db/sql';

export interface NewMember {
  teamMemberId?: string;
  patientId?: string;
  /** The patient joins as the guardian of this patient (the channel's patient). */
  guardianOfPatientId?: string;
}

/**
 * Adds people to a channel unless already members, each with their MEMBER_JOINED event, in a
 * fixed number of statements whatever their number. Only people still active at this moment are
 * added (someone archived since the input was checked is left out). A team member joining an
 * unstaffed channel staffs it again. Returns how many were added.
 */
export async function addMembers(log: EventLogTransaction, organisationId: string, channelId: string, people: NewMember[]): Promise<number> {
  const teamMemberIds = people.flatMap((p) => (p.teamMemberId ? [p.teamMemberId] : []));
  const patients = people.filter((p) => p.patientId);
  if (teamMemberIds.length + patients.length === 0) return 0;
  const added = await log.em.execute<Array<{ id: string; team_member_id: string | null; patient_id: string | null }>>(
    `with staff as (
       insert into channel_member (organisation_id, id, channel_id, team_member_id)
       select t.organisation_id, gen_random_uuid(), ?, t.id from team_member t
        where t.organisation_id = ? and t.id = any(?::uuid[]) and t.archived_at is null
       on conflict (organisation_id, channel_id, team_member_id) where team_member_id is not null and left_at is null do nothing
       returning id, team_member_id, patient_id, joined_at),
     patients as (
       insert into channel_member (organisation_id, id, channel_id, patient_id, guardian_of_patient_id)
       select a.organisation_id, gen_random_uuid(), ?, p.id, p.guardian_of from unnest(?::uuid[], ?::uuid[]) as p(id, guardian_of)
         join patient a on a.organisation_id = ? and a.id = p.id and a.archived_at is null
       on conflict (organisation_id, channel_id, patient_id) where patient_id is not null and left_at is null do nothing
       returning id, team_member_id, patient_id, joined_at)
     select id, team_member_id, patient_id from (select * from patients union all select * from staff) joined order by patient_id nulls last, team_member_id`,
    [
      channelId,
      organisationId,
      uuidArray(teamMemberIds),
      channelId,
      uuidArray(patients.map((p) => p.patientId!)),
      `{${patients.map((p) => p.guardianOfPatientId ?? 'NULL').join(',')}}`,
      organisationId,
    ],
  );
  if (added.length === 0) return 0;
  // Sequence numbers are reserved only for those really added: the log stays gapless.
  const first = await log.reserveSeqs(channelId, added.length);
  await log.em.execute(
    `update channel_member m set joined_seq = ? + v.n - 1
       from unnest(?::uuid[]) with ordinality as v(id, n)
      where m.organisation_id = ? and m.id = v.id`,
    [first, uuidArray(added.map((row) => row.id)), organisationId],
  );
  if (added.some((row) => row.team_member_id)) {
    await log.em.execute('update channel set unstaffed_since = null where organisation_id = ? and id = ? and unstaffed_since is not null', [organisationId, channelId]);
  }
  for (const [index, row] of added.entries()) {
    await log.append(
      { channelId, type: ChannelEventType.MEMBER_JOINED, memberId: row.id, subject: { teamMemberId: row.team_member_id, patientId: row.patient_id } },
      first + index,
    );
  }
  return added.length;
}

/**
 * The patient of a patient channel and their (active) guardians, who read and write for them.
 * Takes a share lock on the patient's row until commit: a concurrent change of their guardians
 * (which locks it for update) either lands before this reads the links or waits for this channel
 * to be visible, so a removed guardian is never added behind its back.
 */
export async function patientAndGuardians(em: EntityManager, organisationId: string, patientId: string): Promise<NewMember[]> {
  await em.execute('select 1 from patient where organisation_id = ? and id = ? for share', [organisationId, patientId]);
  const guardians = await em.execute<Array<{ id: string }>>(
    `select g.guardian_patient_id as id from patient_guardian g
       join patient p on p.organisation_id = g.organisation_id and p.id = g.guardian_patient_id and p.archived_at is null
      where g.organisation_id = ? and g.dependant_patient_id = ?`,
    [organisationId, patientId],
  );
  return [{ patientId }, ...guardians.map((row) => ({ patientId: row.id, guardianOfPatientId: patientId }))];
}

/** Whose memberships end: an archived team member's, or a former guardian's in their former dependants' channels. */
export type EndingMemberships = { teamMemberId: string } | { guardianPatientId: string; dependantIds: readonly string[] };

/**
 * Ends the selected memberships, each with its MEMBER_LEFT event (their live streams end), in a
 * fixed number of statements however many; returns the channels concerned. The channels are
 * locked first, in id order (so concurrent multi-channel changes cannot deadlock, and a leave
 * racing this one either lands before it or finds the membership ended).
 */
export async function endMemberships(log: EventLogTransaction, organisationId: string, who: EndingMemberships): Promise<string[]> {
  const [filter, params] =
    'teamMemberId' in who
      ? ['m.team_member_id = ?', [who.teamMemberId]]
      : ['m.patient_id = ? and m.guardian_of_patient_id = any(?::uuid[])', [who.guardianPatientId, uuidArray(who.dependantIds)]];
  const candidates = await log.em.execute<Array<{ channel_id: string }>>(
    `select distinct m.channel_id from channel_member m where m.organisation_id = ? and ${filter} and m.left_at is null`,
    [organisationId, ...params],
  );
  if (candidates.length === 0) return [];
  const channelIds = uuidArray(candidates.map((row) => row.channel_id));
  await log.em.execute('select id from channel where organisation_id = ? and id = any(?::uuid[]) order by id for update', [organisationId, channelIds]);
  const rows = await log.em.execute<Array<{ channel_id: string; left_seq: string; member_id: string; team_member_id: string | null; patient_id: string | null }>>(
    `with ended as (
       update channel_member m set left_at = now(), left_seq = c.last_seq + 1
         from channel c
        where m.organisation_id = ? and ${filter} and m.left_at is null and m.channel_id = any(?::uuid[])
          and c.organisation_id = m.organisation_id and c.id = m.channel_id
       returning m.id as member_id, m.channel_id, m.left_seq, m.team_member_id, m.patient_id),
     bumped as (
       update channel c set last_seq = c.last_seq + 1, updated_at = now()
         from ended where c.organisation_id = ? and c.id = ended.channel_id
       returning c.id)
     select channel_id, left_seq, member_id, team_member_id, patient_id from ended`,
    [organisationId, ...params, channelIds, organisationId],
  );
  for (const row of rows) {
    await log.append(
      { channelId: row.channel_id, type: ChannelEventType.MEMBER_LEFT, memberId: row.member_id, subject: { teamMemberId: row.team_member_id, patientId: row.patient_id } },
      Number(row.left_seq),
    );
  }
  return rows.map((row) => row.channel_id);
}
