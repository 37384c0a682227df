import type { RequestScope } from '../../graphql/context';
import type { MessagingSettingsService } from '../settings/messaging-settings.service';
import { channelPolicy } from '../../policy/channels';
import type { PersonActor } from '../../auth/actor';
import { UserError, UserErrorCode } from '../../errors';
import { Channel, ChannelKind, ChannelMember, ChannelStatus } from '../channels/channel.entity';
import type { ChannelState } from '../channels/channel-state';
import { entitlementBlockers, MessagingBlocker, notMessageable, patientBlockers } from '../settings/messageability';


/**
 * Whether the caller may write in a channel they take part in, and for whom: a guardian's
 * membership writes on behalf of its dependant. Patients write only in open channels (and in a
 * conversation only while replies are allowed) and only while entitled to messaging; staff
 * write to a patient only while every messaging precondition holds (internal notes excepted).
 */
export async function authorizeWrite(
  scope: Pick<RequestScope, 'loaders'>,
  settingsService: MessagingSettingsService,
  actor: PersonActor,
  channel: Channel,
  membership: Pick<ChannelMember, 'guardianOfPatientId'> | undefined,
  requestedOnBehalfOf: string | null | undefined,
  internal = false,
): Promise<{ onBehalfOfPatientId: string | null }> {
  const onBehalfOfPatientId = membership?.guardianOfPatientId ?? null;
  if (requestedOnBehalfOf && requestedOnBehalfOf !== onBehalfOfPatientId) {
    throw new UserError(UserErrorCode.INVALID_INPUT, "A guardian writes on behalf of a dependant only in that dependant's channels.", 'input.onBehalfOfPatientId');
  }
  if (actor.kind === 'patient') {
    assertOpenToPatients(channel);
    const [settings, me, subject] = await Promise.all([
      settingsService.current(),
      scope.loaders.patient.load(actor.patientId),
      onBehalfOfPatientId ? scope.loaders.patient.load(onBehalfOfPatientId) : undefined,
    ]);
    if (!me) throw new UserError(UserErrorCode.NOT_FOUND, 'No such channel.', 'input.channelId');
    const blockers = [...entitlementBlockers(subject ?? me, settings), ...(me.portalAccess ? [] : [MessagingBlocker.NO_PORTAL_ACCESS])];
    if (blockers.length > 0) throw notMessageable(actor, blockers, 'input.channelId');
    return { onBehalfOfPatientId };
  }
  // An internal note never reaches the patient: their preconditions do not apply to it.
  if (!internal && channel.patientId && channelPolicy.reachesPatient(channel.kind)) {
    const [settings, { patient, guardians }] = await Promise.all([settingsService.current(), scope.loaders.patientWithGuardians.load(channel.patientId)]);
    if (patient) {
      const blockers = patientBlockers(patient, guardians, settings);
      if (blockers.length > 0) throw notMessageable(actor, blockers, 'input.channelId');
    }
  }
  return { onBehalfOfPatientId };
}

/** `assertOpenToPatients` as a condition on the channel row (unqualified columns), for a write that checks it on the row it locks. */
export const openToPatientsSql = `(status <> '${ChannelStatus.CLOSED}' and (kind <> '${ChannelKind.CONVERSATION}' or patient_can_reply))`;

/** Patients write only in open channels, and in a conversation only while replies are allowed. */
export function assertOpenToPatients(channel: Pick<ChannelState, 'kind' | 'status' | 'patientCanReply'>): void {
  if (channel.status === ChannelStatus.CLOSED) throw new UserError(UserErrorCode.CHANNEL_CLOSED, 'This conversation is closed.', 'input.channelId');
  if (channel.kind === ChannelKind.CONVERSATION && !channel.patientCanReply) {
    throw new UserError(UserErrorCode.REPLIES_NOT_ALLOWED, 'Replies are turned off in this conversation.', 'input.channelId');
  }
}
