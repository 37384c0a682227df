import type { EventLogTransaction } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import { uuidArray } from '../../db/sql';

export interface NewMember {
  teamMemberId?: string;
  patientId?: string;
}

/**
 * Adds people to a channel unless already members, each with their MEMBER_JOINED event, in a
 * fixed number of statements whatever their number. Returns how many were added.
 */
export async function addMembers(log: EventLogTransaction, organisationId: string, channelId: string, people: NewMember[]): Promise<number> {
  const teamMemberIds = people.flatMap((p) => (p.teamMemberId ? [p.teamMemberId] : []));
  const patientIds = people.flatMap((p) => (p.patientId ? [p.patientId] : []));
  if (teamMemberIds.length + patientIds.length === 0) return 0;
  const added = await log.em.execute<Array<{ id: string; team_member_id: string | null; patient_id: string | null }>>(
    `with staff as (
       insert into channel_member (organisation_id, id, channel_id, team_member_id)
       select ?, gen_random_uuid(), ?, unnest(?::uuid[])
       on conflict (organisation_id, channel_id, team_member_id) where team_member_id is not null and left_at is null do nothing
       returning id, team_member_id, patient_id, joined_at),
     patients as (
       insert into channel_member (organisation_id, id, channel_id, patient_id)
       select ?, gen_random_uuid(), ?, unnest(?::uuid[])
       on conflict (organisation_id, channel_id, patient_id) where patient_id is not null and left_at is null do nothing
       returning id, team_member_id, patient_id, joined_at)
     select id, team_member_id, patient_id from (select * from patients union all select * from staff) joined order by patient_id nulls last, team_member_id`,
    [organisationId, channelId, uuidArray(teamMemberIds), organisationId, channelId, uuidArray(patientIds)],
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
  for (const [index, row] of added.entries()) {
    await log.append(
      { channelId, type: ChannelEventType.MEMBER_JOINED, memberId: row.id, subject: { teamMemberId: row.team_member_id, patientId: row.patient_id } },
      first + index,
    );
  }
  return added.length;
}
