import type { EventLogTransaction } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';

/** Adds a member unless already present, recording MEMBER_JOINED. Returns whether they were added. */
export async function addMember(
  log: EventLogTransaction,
  organisationId: string,
  channelId: string,
  who: { teamMemberId?: string; patientId?: string },
): Promise<boolean> {
  const column = who.teamMemberId ? 'team_member_id' : 'patient_id';
  const rows = await log.em.execute<{ id: string }[]>(
    `insert into channel_member (organisation_id, id, channel_id, ${column})
     values (?, gen_random_uuid(), ?, ?)
     on conflict (organisation_id, channel_id, ${column}) where ${column} is not null and left_at is null do nothing
     returning id`,
    [organisationId, channelId, who.teamMemberId ?? who.patientId],
  );
  if (rows.length !== 1) return false;
  // The sequence number is reserved only once the member is really added: the log stays gapless.
  const seq = await log.nextSeq(channelId);
  await log.em.execute('update channel_member set joined_seq = ? where organisation_id = ? and id = ?', [seq, organisationId, rows[0].id]);
  await log.append({ channelId, type: ChannelEventType.MEMBER_JOINED, memberId: rows[0].id, subject: who }, seq);
  return true;
}
