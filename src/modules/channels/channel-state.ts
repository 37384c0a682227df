import type { EventLogTransaction } from '../../realtime/event-log';
import type { ChannelKind, ChannelStatus } from './channel.entity';
import { preparedRows } from '../../db/prepared';

/** What decides who may write in a channel, as read under its lock. */
export interface ChannelState {
  kind: ChannelKind;
  status: ChannelStatus;
  patientCanReply: boolean;
  title: string | null;
}

/** Locks a channel's row until commit and reads its state as it is now. */
export async function lockChannelState(log: EventLogTransaction, organisationId: string, channelId: string): Promise<ChannelState> {
  const [row] = await preparedRows<Array<{ kind: ChannelKind; status: ChannelStatus; patient_can_reply: boolean; title: string | null }>>(log.em,
    'select kind, status, patient_can_reply, title from channel where organisation_id = ? and id = ? for update',
    [organisationId, channelId],
  );
  if (!row) throw new Error('channel vanished during its transaction');
  return { kind: row.kind, status: row.status, patientCanReply: row.patient_can_reply, title: row.title };
}
