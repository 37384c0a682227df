import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { TeamMember } from '../modules/directory/team-member.entity';
import { Patient } from '../modules/directory/patient.entity';
import { linkedPatients, patientsWithGuardians, type GuardianLinkEnd, type PatientWithGuardians } from '../modules/directory/directory.queries';
import { entitiesById } from '../db/prepared';
import type { Channel, ChannelMember } from '../modules/channels/channel.entity';
import { isPerson, type Actor } from '../auth/actor';
import { Message } from '../modules/messages/message.entity';
import { unreadCounts, unreadReplyCounts } from '../modules/messages/read-state.queries';
import { channelsById, channelsOfPatients, channelsWithMemberships, membersById, membersOfChannels, ownMembershipsOf, type ChannelAccess, type KeysetPage } from '../modules/channels/channel.queries';
import { reactionSummaries, type ReactionSummary } from '../modules/messages/reaction.queries';
import { lastMessages, revisionsOf, threadParticipantsOf, type MessageRevision, type PersonIds } from '../modules/messages/message.queries';
import { Attachment, AttachmentStatus } from '../modules/attachments/attachment.entity';
import { ChartDocument } from '../modules/chart/chart-document.entity';

/**
 * Per-request batch loaders. Each batch's SQL lives in its module's query file (`*.queries.ts`),
 * which asks the policy layer what the caller may see.
 */

type Keyed = { id: string };

function byIdLoader<T extends Keyed>(load: (ids: string[]) => Promise<T[]>): DataLoader<string, T | undefined> {
  return new DataLoader<string, T | undefined>(async (ids) => {
    const rows = await load([...ids]);
    const found = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => found.get(id));
  });
}

/** One DataLoader per page size and cursor: the same page of many parents' lists in one query. */
function pagedLoader<T>(load: (ids: readonly string[], page: KeysetPage) => Promise<T[][]>) {
  const loaders = new Map<string, DataLoader<string, T[]>>();
  return {
    page(page: KeysetPage): DataLoader<string, T[]> {
      const key = `${page.limit}|${page.after?.at.toISOString() ?? ''}|${page.after?.id ?? ''}`;
      let loader = loaders.get(key);
      if (!loader) loaders.set(key, (loader = new DataLoader((ids) => load(ids, page))));
      return loader;
    },
    clearAll: () => loaders.clear(),
  };
}

/**
 * One query per type per tick, whatever the list size. `db` runs plain statements (no per-request EntityManager); `em` gives the operation's
 * EntityManager, forked only when a loader maps rows into entities.
 */
export function createLoaders(db: EntityManager, em: () => EntityManager, actor: Actor | undefined) {
  const organisationId = actor && actor.kind !== 'operator' ? actor.organisationId : undefined;
  const scoped = <T extends Keyed>(entity: new () => T) =>
    byIdLoader<T>((ids) => (organisationId ? entitiesById(em(), entity, organisationId, ids) : Promise.resolve([])));
  /** Patients at the other end of guardian links, active ones only, per patient id. */
  const linked = (from: GuardianLinkEnd) =>
    new DataLoader<string, Patient[]>((ids) => (organisationId ? linkedPatients(em(), organisationId, from, ids) : Promise.resolve(ids.map(() => []))));
  const loaders = {
    /** Pages of messages read in the same statement as their channel (`channel(id) { messages }`), by messagePageKey. */
    readAhead: new Map<string, Message[]>(),
    teamMember: scoped(TeamMember),
    patient: scoped(Patient),
    channel: byIdLoader<Channel>((ids) => (organisationId ? channelsById(db, organisationId, ids) : Promise.resolve([]))),
    message: scoped(Message),
    /** Membership rows by id, current or ended. */
    member: byIdLoader<ChannelMember>((ids) => (organisationId ? membersById(db, organisationId, ids) : Promise.resolve([]))),
    /** The active guardians of each patient id (empty for most). */
    guardians: linked('dependant'),
    /** The active dependants of each guardian patient id. */
    dependants: linked('guardian'),
    /** Earlier bodies of each message id, oldest first (staff-only data: the resolver decides who sees it). */
    revisions: new DataLoader<string, MessageRevision[]>((messageIds) => (organisationId ? revisionsOf(db, organisationId, messageIds) : Promise.resolve(messageIds.map(() => [])))),
    /** The newest top-level message of each channel id that the caller may see. */
    lastMessage: new DataLoader<string, Message | undefined>((channelIds) => lastMessages(em(), actor, channelIds)),
    attachment: scoped(Attachment),
    chartDocument: scoped(ChartDocument),
    /** The ready attachments of each message id, in upload order. */
    messageAttachments: new DataLoader<string, Attachment[]>(async (messageIds) => {
      if (!organisationId) return messageIds.map(() => []);
      const rows = await em().find(Attachment, { organisationId, messageId: { $in: [...messageIds] }, status: AttachmentStatus.READY }, { orderBy: { createdAt: 'asc', id: 'asc' } });
      return messageIds.map((id) => rows.filter((row) => row.messageId === id));
    }),
    /** Who replied in each thread (top-level message id), first reply first, as person keys; internal replies for staff only. */
    threadParticipants: new DataLoader<string, PersonIds[]>((messageIds) => threadParticipantsOf(db, actor, messageIds)),
    /** The reactions of each message id, with whether the caller made each. */
    reactions: new DataLoader<string, ReactionSummary[]>((messageIds) => reactionSummaries(db, actor, messageIds)),
    /** The caller's unread messages per channel id (0 where not a member). */
    unreadCount: new DataLoader<string, number>((channelIds) => unreadCounts(db, actor, channelIds)),
    /** The caller's unread replies per thread (top-level message id). */
    unreadReplyCount: new DataLoader<string, number>((messageIds) => unreadReplyCounts(db, actor, messageIds)),
    /** Pages of the channels about each patient id that the caller may see on the patient's profile, batched per page size and cursor. */
    patientChannels: pagedLoader((patientIds, page) => channelsOfPatients(db, actor, patientIds, page, false)),
    /** The same for a team member who answers patients: with the conversations patients started. */
    patientChannelsAnswering: pagedLoader((patientIds, page) => channelsOfPatients(db, actor, patientIds, page, true)),
    /** Pages of the current members of each channel id, batched per page size and cursor. */
    channelMembers: pagedLoader((channelIds, page) => membersOfChannels(db, actor, channelIds, page)),
    /** The caller's own membership row per channel id. */
    myMembership: new DataLoader<string, ChannelMember | undefined>(async (channelIds) => {
      if (!isPerson(actor)) return channelIds.map(() => undefined);
      const rows = await ownMembershipsOf(db, actor, channelIds);
      const byChannel = new Map(rows.map((row) => [row.channelId, row]));
      return channelIds.map((id) => byChannel.get(id));
    }),
    /** A channel with the caller's current membership of it, in one statement (what access checks need); primes both loaders. */
    channelAccess: new DataLoader<string, ChannelAccess>(async (channelIds) => {
      if (!isPerson(actor)) return channelIds.map(() => ({}));
      const found = await channelsWithMemberships(db, actor, channelIds);
      return found.map((access, index) => {
        loaders.channel.prime(channelIds[index], access.channel);
        loaders.myMembership.prime(channelIds[index], access.membership);
        return access;
      });
    }),
    /** A patient with their active guardians, in one statement, as plain rows (what a message to a patient is checked against; not for the API). */
    patientWithGuardians: new DataLoader<string, PatientWithGuardians>(async (patientIds) =>
      organisationId ? patientsWithGuardians(db, organisationId, patientIds) : patientIds.map(() => ({ guardians: [] })),
    ),
    /** After the caller joined or left a channel: their membership is read again when next asked for. */
    forgetMembership(channelId: string): void {
      loaders.myMembership.clear(channelId);
      loaders.channelAccess.clear(channelId);
    },
  };
  return loaders;
}

export type Loaders = ReturnType<typeof createLoaders>;
