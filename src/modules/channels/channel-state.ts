import type { EntityManager } from '@mikro-orm/postgresql';
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

type StateRow = { kind: ChannelKind; status: ChannelStatus; patient_can_reply: boolean; title: string | null };
const STATE_SQL = 'select kind, status, patient_can_reply, title from channel where organisation_id = ? and id = ?';
const stateOf = (row: StateRow): ChannelState => ({ kind: row.kind, status: row.status, patientCanReply: row.patient_can_reply, title: row.title });

/** Locks a channel's row until commit and reads its state as it is now. */
export async function lockChannelState(log: EventLogTransaction, organisationId: string, channelId: string): Promise<ChannelState> {
  const [row] = await preparedRows<StateRow[]>(log.em, `${STATE_SQL} for update`, [organisationId, channelId]);
  if (!row) throw new Error('channel vanished during its transaction');
  return stateOf(row);
}

/** A channel's state as it is now, without a lock; undefined when there is no such channel. */
export async function channelState(em: EntityManager, organisationId: string, channelId: string): Promise<ChannelState | undefined> {
  const [row] = await preparedRows<StateRow[]>(em, STATE_SQL, [organisationId, channelId]);
  return row ? stateOf(row) : undefined;
}
