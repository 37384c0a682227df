import { z } from 'zod';
import type { RequestScope } from '../../graphql/context';
import { can } from '../../policy/permissions';
import { requireStaff, type StaffActor } from '../../auth/actor';
import { UserError, UserErrorCode } from '../../errors';
import { parseInput, requiredText, uuid } from '../../common/validation';
import { withEventLog } from '../../realtime/event-log';
import { TeamMember } from '../directory/team-member.entity';
import { Patient } from '../directory/patient.entity';
import { Channel, ChannelKind } from './channel.entity';
import { addMembers } from './membership';
import { assertActivePeople } from '../directory/active-people';
import { notMessageable, patientBlockers } from '../settings/messageability';
import type { ChannelService } from './channel.service';
import type { EventBus } from '../../realtime/bus';
import type { MessagingSettingsService } from '../settings/messaging-settings.service';

const MAX_DIRECT = 20;
const MAX_ADD = 200;

const ids = (label: string, max: number) => z.array(uuid(label)).max(max).nullish().transform((list) => [...new Set(list ?? [])]);

const directInput = z.object({ teamMemberIds: ids('A team member id', MAX_DIRECT) });
const groupInput = z.object({
  title: requiredText('The title', 200),
  teamMemberIds: ids('A team member id', MAX_ADD),
  patientIds: ids('A patient id', MAX_ADD),
});
const addInput = z.object({ channelId: uuid('The channel id'), teamMemberIds: ids('A team member id', MAX_ADD), patientIds: ids('A patient id', MAX_ADD) });

/** What TeamChannelService works with besides the request. */
export interface TeamChannelServiceDeps {
  bus: EventBus;
  channels: ChannelService;
  settings: MessagingSettingsService;
}

/** Channels that are not about one patient: direct messages between staff, and groups. */
export class TeamChannelService {
  constructor(private readonly scope: RequestScope, private readonly deps: TeamChannelServiceDeps) {}

  private staff(): StaffActor {
    return requireStaff(this.scope.actor);
  }

  /**
   * Opens the direct channel of the caller and the given team members: the same set of people
   * always gets the same channel (anyone who left it is added back).
   */
  async openDirect(input: unknown): Promise<Channel> {
    const actor = this.staff();
    const { teamMemberIds } = parseInput(directInput, input);
    const people = [...new Set([actor.teamMemberId, ...teamMemberIds])].sort();
    if (people.length < 2) throw new UserError(UserErrorCode.INVALID_INPUT, 'Name at least one other team member.', 'input.teamMemberIds');
    await this.assertActive(TeamMember, people, 'input.teamMemberIds');
    const { organisationId } = actor;
    const directKey = people.join(',');
    return this.inTransaction(async (log) => {
      // Concurrent opens of the same set meet at the unique index; both get its id.
      const rows = await log.em.execute<{ id: string }[]>(
        `with inserted as (
           insert into channel (organisation_id, id, kind, direct_key, created_by_team_member_id)
           values (?, gen_random_uuid(), ?, ?, ?)
           on conflict (organisation_id, direct_key) where kind = 'DIRECT' do nothing
           returning id)
         select id from inserted union all select id from channel where organisation_id = ? and kind = ? and direct_key = ?`,
        [organisationId, ChannelKind.DIRECT, directKey, actor.teamMemberId, organisationId, ChannelKind.DIRECT, directKey],
      );
      const channelId = rows[0]?.id ?? (await log.em.findOneOrFail(Channel, { organisationId, kind: ChannelKind.DIRECT, directKey })).id;
      await addMembers(log, organisationId, channelId, people.map((teamMemberId) => ({ teamMemberId })));
      return channelId;
    });
  }

  /** Creates a group channel (MESSAGING_MANAGEMENT); the caller joins with the people named. */
  async createGroup(input: unknown): Promise<Channel> {
    const actor = this.staff();
    const { title, teamMemberIds, patientIds } = parseInput(groupInput, input);
    if (!can(actor, 'createGroup')) {
      throw new UserError(UserErrorCode.FORBIDDEN, 'Creating group channels needs the Messaging Management permission.');
    }
    await this.assertActive(TeamMember, teamMemberIds, 'input.teamMemberIds');
    await this.assertActive(Patient, patientIds, 'input.patientIds');
    await this.assertMessageable(patientIds);
    const { organisationId } = actor;
    return this.inTransaction(async (log) => {
      const channel = log.em.create(Channel, { organisationId, kind: ChannelKind.GROUP, title, createdByTeamMemberId: actor.teamMemberId });
      await log.em.flush();
      await addMembers(log, organisationId, channel.id, [
        ...[actor.teamMemberId, ...teamMemberIds].map((teamMemberId) => ({ teamMemberId })),
        ...patientIds.map((patientId) => ({ patientId })),
      ]);
      return channel.id;
    });
  }

  /**
   * Adds people to a channel the caller takes part in. Groups need MESSAGING_MANAGEMENT and take
   * patients; patient channels take team members only; direct channels are fixed sets.
   */
  async addMembers(input: unknown): Promise<Channel> {
    const actor = this.staff();
    const { channelId, teamMemberIds, patientIds } = parseInput(addInput, input);
    const found = await this.deps.channels.findParticipating(channelId);
    if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    const { kind } = found.channel;
    if (kind === ChannelKind.DIRECT) {
      throw new UserError(UserErrorCode.UNSUPPORTED_CHANNEL_KIND, 'A direct channel is a fixed set of people: open one with everyone instead.', 'input.channelId');
    }
    if (kind === ChannelKind.GROUP && !can(actor, 'manageGroupMembers')) {
      throw new UserError(UserErrorCode.FORBIDDEN, 'Managing group participants needs the Messaging Management permission.', 'input.channelId');
    }
    if (kind !== ChannelKind.GROUP && patientIds.length > 0) {
      throw new UserError(UserErrorCode.UNSUPPORTED_CHANNEL_KIND, 'Only group channels take more patients.', 'input.patientIds');
    }
    await this.assertActive(TeamMember, teamMemberIds, 'input.teamMemberIds');
    await this.assertActive(Patient, patientIds, 'input.patientIds');
    await this.assertMessageable(patientIds);
    const { organisationId } = actor;
    await this.inTransaction(async (log) => {
      await addMembers(log, organisationId, channelId, [...teamMemberIds.map((teamMemberId) => ({ teamMemberId })), ...patientIds.map((patientId) => ({ patientId }))]);
      return channelId;
    });
    return found.channel;
  }

  /** Every id names an active person of the caller's organisation, or nothing changes. */
  private assertActive(entity: typeof TeamMember | typeof Patient, list: string[], field: string): Promise<void> {
    return assertActivePeople(this.scope.em, this.staff().organisationId, entity, list, field);
  }

  /** Patients joining a group must be messageable (PATIENT_NOT_MESSAGEABLE naming the first who is not). */
  private async assertMessageable(patientIds: string[]): Promise<void> {
    if (patientIds.length === 0) return;
    const settings = await this.deps.settings.current();
    const [patients, guardians] = await Promise.all([this.scope.loaders.patient.loadMany(patientIds), this.scope.loaders.guardians.loadMany(patientIds)]);
    for (const [index, patient] of patients.entries()) {
      const linked = guardians[index];
      if (!patient || patient instanceof Error || linked instanceof Error) continue;
      const blockers = patientBlockers(patient, linked, settings);
      if (blockers.length > 0) throw notMessageable(this.staff(), blockers, 'input.patientIds');
    }
  }

  private async inTransaction(work: Parameters<typeof withEventLog<string>>[4]): Promise<Channel> {
    const actor = this.staff();
    const channelId = await withEventLog(this.scope, this.deps.bus, actor.organisationId, actor, work);
    this.scope.reset();
    const channel = await this.scope.loaders.channel.load(channelId);
    if (!channel) throw new Error('channel vanished after it was written');
    return channel;
  }
}
