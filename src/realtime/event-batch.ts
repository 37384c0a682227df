import type { EntityManager } from '@mikro-orm/postgresql';
import { detachedById, preparedRows } from '../db/prepared';
import { detachedEntity, selectColumns } from '../db/sql';
import { ChannelEventRecord } from './channel-event.entity';
import { Message } from '../modules/messages/message.entity';
import { TeamMember } from '../modules/directory/team-member.entity';
import { Patient } from '../modules/directory/patient.entity';
import { Channel, ChannelMember } from '../modules/channels/channel.entity';
import type { Loaders } from '../graphql/loaders';
import { personIdOf, type PersonActor } from '../auth/actor';
import { personKey, subjectKey, type Viewer } from '../policy/events';
import type { EventPeople } from '../policy/visibility-class';

/** An event's place in its organisation's log: commit order, then channel, then sequence. */
export interface EventKey {
  position: number;
  channelId: string;
  seq: number;
}

const MAX_UUID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/** The key after every event of transactions up to `position`. */
export const endOfPosition = (position: number): EventKey => ({ position, channelId: MAX_UUID, seq: Number.MAX_SAFE_INTEGER });

export function compareKeys(a: EventKey, b: EventKey): number {
  if (a.position !== b.position) return a.position - b.position;
  if (a.channelId !== b.channelId) return a.channelId < b.channelId ? -1 : 1;
  return a.seq - b.seq;
}

/** The rows an event's fields resolve to, loaded once per batch and shared by every reader. */
export interface RelatedRows {
  messages: Message[];
  channels: Channel[];
  members: ChannelMember[];
  teamMembers: TeamMember[];
  patients: Patient[];
}

export interface LoadedEvent {
  record: ChannelEventRecord;
  key: EventKey;
  related: RelatedRows;
  /** Set by the shared feed: the people with an inbox open when it read the event... */
  audienceFor?: ReadonlySet<string>;
  /** ...and which of them were members of the channel at this event. */
  audience?: ReadonlySet<string>;
  /** The people the event names (`peopleOf`), once asked for. */
  people?: EventPeople;
}

export const keyOf = (record: ChannelEventRecord): EventKey => ({ position: record.position, channelId: record.channelId, seq: record.seq });

export { personKey, subjectKey };

export const actorKey = (actor: PersonActor): string =>
  personKey(personIdOf(actor));

/** A subscriber as the event policy sees them: their kind and key, and a team member's role groups and permissions. */
export const viewerOf = (actor: PersonActor): Viewer =>
  actor.kind === 'staff'
    ? { kind: actor.kind, key: actorKey(actor), teamMemberId: actor.teamMemberId, roles: actor.roles, permissions: actor.permissions }
    : { kind: actor.kind, key: actorKey(actor) };

/**
 * Loads the rows that events refer to (messages, channels, memberships and the people behind
 * them) in one query per type, whatever the batch size, as detached rows: the live feed keeps
 * them, and an EntityManager's identity map and snapshots would cost many times the rows.
 */
export async function loadRelated(em: EntityManager, organisationId: string, records: ChannelEventRecord[]): Promise<RelatedRows> {
  const unique = (values: Array<string | null | undefined>) => [...new Set(values.filter((value): value is string => Boolean(value)))];
  const [messages, members, channels] = await Promise.all([
    detachedById(em, Message, organisationId, unique(records.map((record) => record.messageId))),
    detachedById(em, ChannelMember, organisationId, unique(records.map((record) => record.memberId))),
    detachedById(em, Channel, organisationId, unique(records.map((record) => record.channelId))),
  ]);
  const [teamMembers, patients] = await Promise.all([
    detachedById(em, TeamMember, organisationId, unique([...messages.map((m) => m.authorTeamMemberId), ...members.map((m) => m.teamMemberId)])),
    detachedById(em, Patient, organisationId, unique([...messages.map((m) => m.authorPatientId), ...members.map((m) => m.patientId), ...channels.map((c) => c.patientId)])),
  ]);
  return { messages, channels, members, teamMembers, patients };
}

/**
 * Reads the events that `condition` (the rest of the statement after `where`, on channel_event:
 * filter, order and limit) selects, with their related rows.
 */
export async function loadEvents(em: EntityManager, organisationId: string, condition: string, params: unknown[]): Promise<LoadedEvent[]> {
  const rows = await preparedRows(em, `select ${selectColumns(em, ChannelEventRecord, 'e')} from channel_event e where ${condition}`, params);
  if (rows.length === 0) return [];
  const records = rows.map((row) => detachedEntity(em, ChannelEventRecord, row));
  const related = await loadRelated(em, organisationId, records);
  return records.map((record) => ({ record, key: keyOf(record), related }));
}

/** Hands a batch's shared rows to a reader's loaders, so resolving its fields costs no query. */
export function primeLoaders(loaders: Loaders, related: RelatedRows): void {
  for (const row of related.messages) loaders.message.prime(row.id, row);
  for (const row of related.channels) loaders.channel.prime(row.id, row);
  for (const row of related.members) loaders.member.prime(row.id, row);
  for (const row of related.teamMembers) loaders.teamMember.prime(row.id, row);
  for (const row of related.patients) loaders.patient.prime(row.id, row);
}

/**
 * The people an event names, as person keys: who caused it, who it is about, the message's author
 * and the patient it was written for, the membership's person and the channel's patient. A
 * subscriber's visibility class for the event turns on these (policy/visibility-class.ts).
 */
export function peopleOf(event: LoadedEvent): EventPeople {
  // Asked once per subscriber an event reaches: worked out once per event.
  return (event.people ??= namedPeople(event));
}

function namedPeople(event: LoadedEvent): EventPeople {
  const { record, related } = event;
  const keys = new Set<string>();
  const add = (teamMemberId?: string | null, patientId?: string | null) => {
    if (teamMemberId || patientId) keys.add(personKey({ teamMemberId, patientId }));
  };
  add(record.actorTeamMemberId, record.actorPatientId);
  add(record.subjectTeamMemberId, record.subjectPatientId);
  const message = record.messageId ? related.messages.find((row) => row.id === record.messageId) : undefined;
  if (message) {
    add(message.authorTeamMemberId, message.authorPatientId);
    add(null, message.onBehalfOfPatientId);
  }
  const member = record.memberId ? related.members.find((row) => row.id === record.memberId) : undefined;
  if (member) add(member.teamMemberId, member.patientId);
  add(null, related.channels.find((row) => row.id === record.channelId)?.patientId);
  return { keys };
}
