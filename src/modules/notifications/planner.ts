import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../config';
import { uuidArray } from '../../db/sql';
import { ChannelKind } from '../channels/channel.entity';
import { channelPolicy } from '../../policy/channels';
import { messagePolicy } from '../../policy/messages';
import { permissionFor } from '../../policy/permissions';
import { loadMessagingSettings, type MessagingSettings } from '../settings/messaging-settings.service';

export type NoticeKind = 'MESSAGE' | 'NEW_PATIENT_MESSAGE' | 'NEW_CLINIC_MESSAGE' | 'DIGEST' | 'WEBHOOK_DISABLED' | 'ESCALATION';
export type NoticeTransport = 'EMAIL' | 'PUSH' | 'SMS';

interface PlannedNotice {
  kind: NoticeKind;
  transport: NoticeTransport;
  teamMemberId: string | null;
  patientId: string | null;
  channelId: string | null;
  messageId: string | null;
  dueAt: Date;
}

interface SentMessage {
  organisation_id: string;
  id: string;
  seq: string;
  channel_id: string;
  channel_kind: ChannelKind;
  started_by_patient: boolean;
  started_by_clinic: boolean;
  unstaffed: boolean;
  from_other_clinic: boolean;
  author_team_member_id: string | null;
  author_patient_id: string | null;
  on_behalf_of_patient_id: string | null;
  internal: boolean;
  audience_roles: string[] | null;
  audience_team_member_id: string | null;
  deleted: boolean;
  created_at: string;
}

/** A person who may be told of a message, with what they chose and where they can be reached. */
interface Candidate {
  team_member_id: string | null;
  patient_id: string | null;
  email_mode: 'IMMEDIATE' | 'DIGEST' | 'OFF';
  push: boolean;
  sms: boolean;
  delay_minutes: number | null;
  email_address: string | null;
  phone: string | null;
  has_push: boolean;
}

/** Preferences (defaults where none were saved), addresses and push subscriptions of the people joined as `x`. */
const candidateColumns = (x: string, teamMember: string, patient: string) => `
  ${teamMember} as team_member_id, ${patient} as patient_id,
  coalesce(np.email, 'IMMEDIATE') as email_mode, coalesce(np.push, true) as push, coalesce(np.sms, true) as sms, np.delay_minutes,
  coalesce(tm.email, p.email) as email_address, p.phone,
  exists (select 1 from push_subscription ps where ps.organisation_id = ${x}.organisation_id
           and (ps.team_member_id = ${teamMember} or ps.patient_id = ${patient})) as has_push`;

const candidateJoins = (x: string, teamMember: string, patient: string) => `
  ${x === 'tm' ? '' : `left join team_member tm on tm.organisation_id = ${x}.organisation_id and tm.id = ${teamMember}`}
  left join patient p on p.organisation_id = ${x}.organisation_id and p.id = ${patient}
  left join notification_preference np on np.organisation_id = ${x}.organisation_id
        and (np.team_member_id = ${teamMember} or np.patient_id = ${patient})`;

/**
 * Plans the notices of one sent message: for each member at the time it was sent (not its author
 * or the dependant it was written for; only staff for an internal note), not archived or muted and
 * still active, one notice per transport they allow and can be reached by, due after their delay
 * (or in their next digest); and for a patient's message, the organisation's role group (or the
 * conversation's responders) who are not members. A waiting notice of the same person, channel and
 * kind absorbs the new one: a burst of messages makes one notice with a count.
 */
export async function planMessageNotices(em: EntityManager, config: Config['notifications'], organisationId: string, messageId: string, settingsCache: Map<string, MessagingSettings>): Promise<number> {
  let settings = settingsCache.get(organisationId);
  if (!settings) settingsCache.set(organisationId, (settings = await loadMessagingSettings(em, organisationId)));
  const [message] = await em.execute<SentMessage[]>(
    `select m.organisation_id, m.id, m.seq, m.channel_id, c.kind as channel_kind, c.started_by_patient, c.started_by_clinic, c.unstaffed_since is not null as unstaffed,
            m.remote_author_name is not null as from_other_clinic, m.author_team_member_id, m.author_patient_id,
            m.on_behalf_of_patient_id, m.internal, m.audience_roles, m.audience_team_member_id, m.deleted_at is not null as deleted, m.created_at
       from message m join channel c on c.organisation_id = m.organisation_id and c.id = m.channel_id
      where m.organisation_id = ? and m.id = ?`,
    [organisationId, messageId],
  );
  if (!message || message.deleted) return 0;
  const audience = messagePolicy.sql.andNoticeAudience({ internal: message.internal, audienceRoles: message.audience_roles, audienceTeamMemberId: message.audience_team_member_id }, 'cm', 'tm');
  const members = await em.execute<Candidate[]>(
    `select ${candidateColumns('cm', 'cm.team_member_id', 'cm.patient_id')}
       from channel_member cm ${candidateJoins('cm', 'cm.team_member_id', 'cm.patient_id')}
      where cm.organisation_id = ? and cm.channel_id = ? and cm.joined_seq < ? and cm.left_at is null
        and cm.archived_at is null and (cm.muted_at is null or cm.muted_until <= now())
        and tm.archived_at is null and p.archived_at is null and (p.id is null or p.portal_access)
        and coalesce(cm.team_member_id, cm.patient_id) <> all(?::uuid[])
        ${audience.sql}`,
    [organisationId, message.channel_id, message.seq, uuidArray(notToTell(message)), ...audience.params],
  );
  // Delays count from when the message was sent, however long planning waited.
  const sentAt = new Date(message.created_at).getTime();
  const digestAt = members.some((member) => member.email_mode === 'DIGEST') ? await nextDigest(em, settings) : undefined;
  const notices: PlannedNotice[] = [];
  const add = (candidate: Candidate, kind: NoticeKind, transport: NoticeTransport) => {
    const side = candidate.team_member_id ? settings.staffNotificationDelayMinutes : settings.patientNotificationDelayMinutes;
    const dueAt = new Date(sentAt + (candidate.delay_minutes ?? side) * 60_000);
    notices.push({ kind, transport, teamMemberId: candidate.team_member_id, patientId: candidate.patient_id, channelId: message.channel_id, messageId: message.id, dueAt });
  };
  const staffAuthored = message.author_team_member_id !== null;
  for (const member of members) {
    const patientSide = member.patient_id !== null;
    const emailAllowed = member.email_address && !(patientSide && staffAuthored && !settings.patientEmailOnStaffReply);
    if (emailAllowed && member.email_mode === 'IMMEDIATE') add(member, 'MESSAGE', 'EMAIL');
    if (emailAllowed && member.email_mode === 'DIGEST') {
      notices.push({ kind: 'DIGEST', transport: 'EMAIL', teamMemberId: member.team_member_id, patientId: member.patient_id, channelId: null, messageId: null, dueAt: digestAt! });
    }
    if (member.push && member.has_push) add(member, 'MESSAGE', 'PUSH');
    if (patientSide && member.sms && member.phone && settings.smsNotificationsEnabled && config.sms) add(member, 'MESSAGE', 'SMS');
  }
  const channel = { kind: message.channel_kind, startedByPatient: message.started_by_patient, unstaffed: message.unstaffed };
  const tellsResponders = channelPolicy.tellsResponders(channel);
  if (message.author_patient_id && messagePolicy.canSee({ kind: 'patient' }, message) && (tellsResponders || channelPolicy.tellsAdmins(channel))) {
    for (const person of await newPatientMessageRecipients(em, settings, message, tellsResponders)) {
      if (person.email_address && person.email_mode !== 'OFF') add(person, 'NEW_PATIENT_MESSAGE', 'EMAIL');
      if (person.push && person.has_push) add(person, 'NEW_PATIENT_MESSAGE', 'PUSH');
    }
  }
  // A message from another clinic in a conversation that clinic started: its responders hear of it, as of a patient's.
  if (message.from_other_clinic && channelPolicy.tellsResponders({ kind: message.channel_kind, startedByPatient: false, startedByClinic: message.started_by_clinic })) {
    for (const person of await newPatientMessageRecipients(em, settings, message, true)) {
      if (person.email_address && person.email_mode !== 'OFF') add(person, 'NEW_CLINIC_MESSAGE', 'EMAIL');
      if (person.push && person.has_push) add(person, 'NEW_CLINIC_MESSAGE', 'PUSH');
    }
  }
  return insertNotices(em, organisationId, notices);
}

/** The next time it is the digest hour in the organisation's time zone (PostgreSQL's time zone rules). */
async function nextDigest(em: EntityManager, settings: MessagingSettings): Promise<Date> {
  const [{ at }] = await em.execute<Array<{ at: string }>>(
    `select case when local_today + make_interval(hours => ?) > local_now then local_today + make_interval(hours => ?)
                 else local_today + interval '1 day' + make_interval(hours => ?) end at time zone ? as at
       from (select now() at time zone ? as local_now, date_trunc('day', now() at time zone ?) as local_today) local`,
    [settings.notificationDigestHour, settings.notificationDigestHour, settings.notificationDigestHour, settings.timeZone, settings.timeZone, settings.timeZone],
  );
  return new Date(at);
}

/** The author, and the dependant a guardian wrote for: they know. */
const notToTell = (message: SentMessage) => [message.author_team_member_id, message.author_patient_id, message.on_behalf_of_patient_id].filter((id): id is string => id !== null);

/**
 * Who hears of a patient's new message besides the channel's members: a conversation's chosen
 * responders where the organisation names them, otherwise the role group in the settings; where
 * it does not go to them (a staff-started conversation left without staff), the messaging admins.
 */
function newPatientMessageRecipients(em: EntityManager, settings: MessagingSettings, message: SentMessage, toResponders: boolean): Promise<Candidate[]> {
  const responders = (message.channel_kind === ChannelKind.CONVERSATION || message.channel_kind === ChannelKind.CLINIC) && !settings.allStaffRespond && settings.responderIds.length > 0;
  const who = toResponders && responders ? { sql: 'tm.id = any(?::uuid[])', param: uuidArray(settings.responderIds) } : roleGroupOrAdmins(settings, toResponders);
  return em.execute<Candidate[]>(
    `select ${candidateColumns('tm', 'tm.id', 'null::uuid')}
       from team_member tm ${candidateJoins('tm', 'tm.id', 'null::uuid')}
      where tm.organisation_id = ? and tm.archived_at is null
        and ${who.sql}
        and not exists (select 1 from channel_member cm where cm.organisation_id = tm.organisation_id and cm.channel_id = ?
                         and cm.team_member_id = tm.id and cm.left_at is null)`,
    [message.organisation_id, who.param, message.channel_id],
  );
}

/** The team members told where no responders are named: the role group, or the messaging admins where the role group could not open the channel. */
function roleGroupOrAdmins(settings: MessagingSettings, roleGroupCanOpen: boolean): { sql: string; param: unknown } {
  return roleGroupCanOpen ? { sql: '? = any(tm.roles)', param: settings.newPatientMessageRoleGroup } : { sql: '? = any(tm.permissions)', param: permissionFor('findAnyConversation') };
}

const INSERT_CHUNK = 1_000;

/** Inserts notices, skipping any already planned for the person and message or absorbed by a waiting one. */
async function insertNotices(em: EntityManager, organisationId: string, notices: PlannedNotice[]): Promise<number> {
  let inserted = 0;
  for (let start = 0; start < notices.length; start += INSERT_CHUNK) {
    const chunk = notices.slice(start, start + INSERT_CHUNK);
    const rows = await em.execute<unknown[]>(
      `insert into notification (organisation_id, kind, transport, team_member_id, patient_id, channel_id, message_id, due_at)
       values ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
       on conflict do nothing returning id`,
      chunk.flatMap((notice) => [organisationId, notice.kind, notice.transport, notice.teamMemberId, notice.patientId, notice.channelId, notice.messageId, notice.dueAt]),
    );
    inserted += rows.length;
  }
  return inserted;
}

/**
 * The notices of an escalation, due now: at the first level the channel's team members who have
 * not archived it, and a conversation's chosen responders; at the second (or where the first finds
 * nobody) the role group in the settings, or the messaging admins for a conversation a team member
 * started (the role group could not open it). Email and push as each allows; no content.
 */
export async function planEscalationNotices(
  em: EntityManager,
  settings: MessagingSettings,
  wait: { organisationId: string; channelId: string; channel: { kind: ChannelKind; startedByPatient: boolean }; level: number },
): Promise<number> {
  const { organisationId, channelId } = wait;
  const tellsResponders = channelPolicy.tellsResponders(wait.channel);
  const responders = tellsResponders && wait.channel.kind === ChannelKind.CONVERSATION && !settings.allStaffRespond ? settings.responderIds : [];
  const nextInLine = (): Promise<Candidate[]> => {
    const who = roleGroupOrAdmins(settings, tellsResponders);
    return em.execute<Candidate[]>(
      `select ${candidateColumns('tm', 'tm.id', 'null::uuid')} from team_member tm ${candidateJoins('tm', 'tm.id', 'null::uuid')}
        where tm.organisation_id = ? and tm.archived_at is null and ${who.sql}`,
      [organisationId, who.param],
    );
  };
  const people =
    wait.level >= 2
      ? await nextInLine()
      : await em.execute<Candidate[]>(
          `select ${candidateColumns('tm', 'tm.id', 'null::uuid')} from team_member tm ${candidateJoins('tm', 'tm.id', 'null::uuid')}
            where tm.organisation_id = ? and tm.archived_at is null
              and (tm.id = any(?::uuid[])
                   or exists (select 1 from channel_member cm where cm.organisation_id = tm.organisation_id and cm.channel_id = ?
                               and cm.team_member_id = tm.id and cm.left_at is null and cm.archived_at is null))`,
          [organisationId, uuidArray(responders), channelId],
        );
  const told = people.length > 0 ? people : await nextInLine();
  const notices: PlannedNotice[] = [];
  for (const person of told) {
    const notice = { kind: 'ESCALATION' as const, teamMemberId: person.team_member_id, patientId: null, channelId, messageId: null, dueAt: new Date() };
    if (person.email_address && person.email_mode !== 'OFF') notices.push({ ...notice, transport: 'EMAIL' });
    if (person.push && person.has_push) notices.push({ ...notice, transport: 'PUSH' });
  }
  return insertNotices(em, organisationId, notices);
}
