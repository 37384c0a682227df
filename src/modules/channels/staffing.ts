import type { EventLogTransaction } from '../../realtime/event-log';
import { uuidArray } from '../../db/sql';
import { channelPolicy } from '../../policy/channels';
import { addMembers } from './membership';

/**
 * Of the given channels, every patient channel with no active team member gets its patient's
 * allocation clinician; where there is none (or they are archived), the channel is flagged
 * unstaffed for the messaging admins. Returns the ids flagged.
 */
export async function restaffPatientChannels(log: EventLogTransaction, organisationId: string, channelIds: readonly string[]): Promise<string[]> {
  if (channelIds.length === 0) return [];
  const empty = await log.em.execute<Array<{ id: string; clinician_id: string | null }>>(
    `select c.id, t.id as clinician_id from channel c
       join patient p on p.organisation_id = c.organisation_id and p.id = c.patient_id
       left join team_member t on t.organisation_id = p.organisation_id and t.id = p.allocation_clinician_id and t.archived_at is null
      where c.organisation_id = ? and c.id = any(?::uuid[]) and ${channelPolicy.sql.keepsTeamMember('c')}
        and not exists (select 1 from channel_member m
                          join team_member s on s.organisation_id = m.organisation_id and s.id = m.team_member_id and s.archived_at is null
                         where m.organisation_id = c.organisation_id and m.channel_id = c.id and m.left_at is null)`,
    [organisationId, uuidArray(channelIds)],
  );
  for (const row of empty) {
    if (row.clinician_id) await addMembers(log, organisationId, row.id, [{ teamMemberId: row.clinician_id }]);
  }
  const unstaffed = empty.filter((row) => !row.clinician_id).map((row) => row.id);
  if (unstaffed.length > 0) {
    await log.em.execute('update channel set unstaffed_since = coalesce(unstaffed_since, now()) where organisation_id = ? and id = any(?::uuid[])', [
      organisationId,
      uuidArray(unstaffed),
    ]);
  }
  return unstaffed;
}
