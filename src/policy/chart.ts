import type { Actor } from '../auth/actor';
import { PATIENT_CHANNEL_KINDS } from './channels';
import type { ChannelKind } from '../modules/channels/channel.entity';

/**
 * A patient's chart: documents registered by partner integrations. Staff read any patient's chart
 * in their organisation (as they open any patient's profile); integrations manage it; patients
 * and guardians never read it, only the documents a team member attached to a message they see.
 */
export const chartPolicy = {
  /** May the caller list a patient's chart documents and read their staff-only details (file, patient, external id)? */
  readsChart: (actor: Actor | undefined) => actor?.kind === 'staff' || actor?.kind === 'service',

  /** May the caller register, change and withdraw chart documents? */
  managesChart: (actor: Actor | undefined) => actor?.kind === 'service',

  /** May the caller attach chart documents to a message? (Patients cannot see the chart to choose from.) */
  attachesFromChart: (actor: Actor | undefined) => actor?.kind === 'staff',

  /**
   * A document of patient P goes only where P is the channel's patient: P's care team, service
   * team, P's conversations, or a staff channel about P. Never a group, a DM or another patient's channel.
   */
  attachableIn: (channel: { kind: ChannelKind; patientId?: string | null }, document: { patientId: string }) =>
    PATIENT_CHANNEL_KINDS.has(channel.kind) && channel.patientId === document.patientId,

  /** The rule, as told to whoever broke it. */
  attachableRule: "A chart document can be attached only in its own patient's channels: their care team, service team, their conversations, or a staff channel about them.",
};
