import { z } from 'zod';
import type { RequestScope } from '../../graphql/context';
import { requirePerson, requireStaff, type PersonActor, type StaffActor, personIdOf } from '../../auth/actor';
import { UserError, UserErrorCode } from '../../errors';
import { parseInput, uuid } from '../../common/validation';
import { withEventLog } from '../../realtime/event-log';
import { ChannelEventType } from '../../realtime/channel-event.entity';
import type { EventBus } from '../../realtime/bus';
import { channelPolicy } from '../../policy/channels';
import { can } from '../../policy/permissions';
import { ChannelMember, type Channel } from './channel.entity';
import { channelInput, type ChannelService } from './channel.service';

const muteInput = z.object({
  channelId: uuid('The channel id'),
  until: z.coerce
    .date({ errorMap: () => ({ message: 'Not a valid time.' }) })
    .refine((date) => date.getTime() > Date.now(), 'The end of a mute must be in the future.')
    .nullish(),
});
const removeInput = z.object({ channelId: uuid('The channel id'), memberId: uuid('The member id') });

/** What ChannelMembershipService works with besides the request. */
export interface ChannelMembershipServiceDeps {
  bus: EventBus;
  channels: ChannelService;
}

/** A member's own standing in a channel: leaving, being removed, archiving and muting it for themself. */
export class ChannelMembershipService {
  constructor(private readonly scope: RequestScope, private readonly deps: ChannelMembershipServiceDeps) {}

  private person(): PersonActor {
    return requirePerson(this.scope.actor);
  }

  private staff(): StaffActor {
    return requireStaff(this.scope.actor);
  }

  /**
   * The caller leaves a channel. Team members may leave any channel but the last team member of
   * a patient channel; patients may not leave their care-team, service-team or conversation
   * channels. Their open streams of the channel end (ACCESS_REVOKED).
   */
  async leave(input: unknown): Promise<Channel> {
    const actor = this.person();
    const { channelId } = parseInput(channelInput, input);
    const found = await this.deps.channels.findParticipating(channelId);
    if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    if (actor.kind === 'patient' && channelPolicy.patientStays(found.channel.kind)) {
      throw new UserError(UserErrorCode.PATIENT_CANNOT_LEAVE, 'Patients cannot leave this channel.', 'input.channelId');
    }
    await this.endMembership(found.channel, found.membership, undefined);
    return found.channel;
  }

  /**
   * Removes someone from a channel the caller is a member of; needs MESSAGING_MANAGEMENT. The
   * patient of a care-team, service-team or conversation channel stays, and so does the last
   * team member of a patient channel.
   */
  async removeMember(input: unknown): Promise<Channel> {
    const actor = this.staff();
    const { channelId, memberId } = parseInput(removeInput, input);
    const found = await this.deps.channels.findParticipating(channelId);
    if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    if (!can(actor, 'removeMembers')) {
      throw new UserError(UserErrorCode.FORBIDDEN, 'Removing people from a channel needs the Messaging Management permission.', 'input.memberId');
    }
    const { channel } = found;
    const member = await this.scope.em.findOne(ChannelMember, { organisationId: actor.organisationId, id: memberId, channelId, leftAt: null });
    if (!member) throw new UserError(UserErrorCode.NOT_FOUND, 'No such member in this channel.', 'input.memberId');
    if (member.patientId && member.patientId === channel.patientId && channelPolicy.patientStays(channel.kind)) {
      throw new UserError(UserErrorCode.PATIENT_CANNOT_LEAVE, 'The patient of this channel cannot be removed.', 'input.memberId');
    }
    if (member.guardianOfPatientId) {
      throw new UserError(UserErrorCode.PATIENT_CANNOT_LEAVE, "A guardian is in the dependant's channels for as long as the patient record links them.", 'input.memberId');
    }
    await this.endMembership(channel, member, actor.teamMemberId);
    return channel;
  }

  private async endMembership(channel: Channel, member: ChannelMember, removedByTeamMemberId: string | undefined): Promise<void> {
    const actor = this.person();
    const { organisationId } = actor;
    await withEventLog(this.scope, this.deps.bus, organisationId, actor, async (log) => {
      // Reserving the sequence number locks the channel row, so two team members leaving at once
      // cannot both see the other as the one who stays.
      const seq = await log.nextSeq(channel.id);
      if (member.teamMemberId && channelPolicy.keepsTeamMember(channel.kind)) {
        const others = await log.em.execute<{ n: string }[]>(
          `select count(*) as n from channel_member
            where organisation_id = ? and channel_id = ? and team_member_id is not null and left_at is null and id <> ?`,
          [organisationId, channel.id, member.id],
        );
        if (Number(others[0].n) === 0) {
          throw new UserError(UserErrorCode.LAST_TEAM_MEMBER, 'A patient channel keeps at least one team member.', 'input.channelId');
        }
      }
      const ended = await log.em.execute<{ id: string }[]>(
        `update channel_member set left_at = now(), left_seq = ?, removed_by_team_member_id = ?
          where organisation_id = ? and id = ? and left_at is null returning id`,
        [seq, removedByTeamMemberId ?? null, organisationId, member.id],
      );
      if (ended.length !== 1) throw new UserError(UserErrorCode.NOT_FOUND, 'No such member in this channel.', 'input.memberId');
      await log.append(
        { channelId: channel.id, type: ChannelEventType.MEMBER_LEFT, memberId: member.id, subject: { teamMemberId: member.teamMemberId, patientId: member.patientId } },
        seq,
      );
    });
    this.scope.loaders.forgetMembership(channel.id);
    this.scope.loaders.member.clear(member.id);
  }

  /**
   * Archives (or unarchives) a channel for the caller alone: it moves to their archived list,
   * stops counting in their badge and pauses their notifications. Doing it twice changes nothing.
   */
  async setArchived(input: unknown, archived: boolean): Promise<Channel> {
    const actor = this.person();
    const { channelId } = parseInput(channelInput, input);
    const found = await this.deps.channels.findParticipating(channelId);
    if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    const who = personIdOf(actor);
    await withEventLog(this.scope, this.deps.bus, actor.organisationId, actor, async (log) => {
      const changed = await log.em.execute<{ id: string }[]>(
        `update channel_member set archived_at = ${archived ? 'now()' : 'null'}
          where organisation_id = ? and id = ? and left_at is null and archived_at is ${archived ? 'null' : 'not null'} returning id`,
        [actor.organisationId, found.membership.id],
      );
      if (changed.length === 0) return;
      const seq = await log.nextSeq(channelId, false);
      const type = archived ? ChannelEventType.CHANNEL_ARCHIVED : ChannelEventType.CHANNEL_UNARCHIVED;
      await log.append({ channelId, type, memberId: found.membership.id, subject: who, subjectOnly: true }, seq);
    });
    // The membership row changed behind the identity map: read it afresh for the payload.
    this.scope.reset();
    return found.channel;
  }

  /**
   * Mutes a channel's notifications for the caller, until a time or until unmuted; unlike
   * archiving it stays in their list and badge. Muting again moves the end.
   */
  async setMuted(input: unknown, muted: boolean): Promise<Channel> {
    const actor = this.person();
    const { channelId, until } = parseInput(muteInput, input);
    const found = await this.deps.channels.findParticipating(channelId);
    if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    const who = personIdOf(actor);
    await withEventLog(this.scope, this.deps.bus, actor.organisationId, actor, async (log) => {
      const changed = await log.em.execute(
        `update channel_member set muted_at = ${muted ? 'coalesce(muted_at, now())' : 'null'}, muted_until = ?
          where organisation_id = ? and id = ? and left_at is null ${muted ? '' : 'and muted_at is not null'} returning id`,
        [muted ? (until ?? null) : null, actor.organisationId, found.membership.id],
      );
      if (changed.length === 0) return;
      // Only the member is told (their other devices).
      const seq = await log.nextSeq(channelId, false);
      const type = muted ? ChannelEventType.CHANNEL_MUTED : ChannelEventType.CHANNEL_UNMUTED;
      await log.append({ channelId, type, memberId: found.membership.id, subject: who, subjectOnly: true }, seq);
    });
    this.scope.reset();
    return found.channel;
  }
}
