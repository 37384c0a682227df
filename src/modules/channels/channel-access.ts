import type { Actor } from '../../auth/actor';
import { Channel, ChannelKind, ChannelMember, PATIENT_VISIBLE_KINDS } from './channel.entity';

/** Patient-linked kinds that any team member of the organisation may find and join. */
const JOINABLE_BY_STAFF: ReadonlySet<ChannelKind> = new Set([ChannelKind.CARE_TEAM, ChannelKind.SERVICE_TEAM, ChannelKind.STAFF]);

/**
 * Conversations are addressed to chosen team members (or the organisation's responders): besides
 * their members, only messaging admins find and join them, to staff one left without a responder.
 */
function findableBy(actor: Actor | undefined, channel: Channel): boolean {
  if (actor?.kind !== 'staff' || actor.organisationId !== channel.organisationId) return false;
  return JOINABLE_BY_STAFF.has(channel.kind) || (channel.kind === ChannelKind.CONVERSATION && actor.permissions.includes('MESSAGING_ADMIN'));
}

/**
 * The row-level visibility rules of channels, in one place. `membership` is the caller's own
 * membership row of the channel, if any.
 */
export const channelAccess = {
  /** May the caller know this channel exists (query it by id, see it on a patient's profile)? */
  canSee(actor: Actor | undefined, channel: Channel, membership: ChannelMember | undefined): boolean {
    if (!actor || actor.kind === 'operator' || actor.kind === 'service') return false;
    if (actor.organisationId !== channel.organisationId) return false;
    if (actor.kind === 'patient') return membership !== undefined && PATIENT_VISIBLE_KINDS.has(channel.kind);
    return membership !== undefined || findableBy(actor, channel);
  },

  /** May the caller read its messages, follow its events and write in it? */
  canParticipate(actor: Actor | undefined, channel: Channel, membership: ChannelMember | undefined): boolean {
    return membership !== undefined && channelAccess.canSee(actor, channel, membership);
  },

  canJoin(actor: Actor | undefined, channel: Channel): boolean {
    return findableBy(actor, channel);
  },
};
