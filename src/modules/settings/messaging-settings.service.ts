import { preparedRows } from '../../db/prepared';
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { RequestScope } from '../../graphql/context';
import { auditedTransaction } from '../audit/audit-log';
import { can } from '../../policy/permissions';
import { isPerson, type Actor } from '../../auth/actor';
import { UserError, UserErrorCode, forbidden } from '../../errors';
import { parseInput, requiredText, uuid } from '../../common/validation';
import { textArray, uuidArray } from '../../db/sql';
import { TeamMember } from '../directory/team-member.entity';
import { assertActivePeople } from '../directory/active-people';
import { entitlementBlockers } from './messageability';
import { ATTACHMENT_TYPES } from '../attachments/file-types';
import type { SettingsCache } from './settings-cache';
import type { EventBus } from '../../realtime/bus';
import { RESPONSE_TIME_BASES, type ResponseTimeBasis } from '../escalation/due-time';

export const WEEKDAYS = ['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY', 'SUNDAY'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** Opening hours of one day: from `opens` to `closes` ("HH:MM", 24-hour), in the settings' time zone. */
export interface OpeningHours {
  day: Weekday;
  opens: string;
  closes: string;
}

const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'A time is HH:MM, 24-hour.');

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Whether `at` falls in the opening hours (always, when none are set). */
export function isOpen(settings: Pick<MessagingSettings, 'openingHours' | 'timeZone'>, at: Date): boolean {
  if (settings.openingHours.length === 0) return true;
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: settings.timeZone, weekday: 'long', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const part = (type: string) => parts.find((candidate) => candidate.type === type)?.value ?? '';
  const day = part('weekday').toUpperCase();
  const time = `${part('hour')}:${part('minute')}`;
  return settings.openingHours.some((hours) => hours.day === day && hours.opens <= time && time < hours.closes);
}


export interface MessagingSettings {
  staffCanStartConversations: boolean;
  allStaffCanStartConversations: boolean;
  conversationStarterIds: string[];
  patientsCanStartConversations: boolean;
  clinicsCanStartConversations: boolean;
  allStaffRespond: boolean;
  responderIds: string[];
  newPatientMessageRoleGroup: string;
  patientCanReplyDefault: boolean;
  patientUploadsAllowed: boolean;
  patientUploadTypes: string[];
  messagingForAllPatientCategories: boolean;
  messagingPatientCategories: string[];
  patientEmailOnStaffReply: boolean;
  /** What a patient added to a group sees of its earlier messages: from their joining, or everything. */
  groupHistory: GroupHistory;
  /** Automatic replies to patients: to a new conversation, and to a message outside opening hours (null: none). */
  autoReplyNewConversation: string | null;
  autoReplyOutsideHours: string | null;
  /** At most one automatic reply per channel in this many hours. */
  autoReplyPeriodHours: number;
  openingHours: OpeningHours[];
  /** IANA time zone the opening hours and the digest hour are in. */
  timeZone: string;
  /** Whether the organisation texts patients (SMS) about new messages. */
  smsNotificationsEnabled: boolean;
  /** How long a message waits unread before it is notified, unless a person chose otherwise. */
  staffNotificationDelayMinutes: number;
  patientNotificationDelayMinutes: number;
  /** The local hour (0-23) daily digests go out at. */
  notificationDigestHour: number;
  /** Where links in notices point (null: the server's default). */
  patientPortalUrl: string | null;
  staffPortalUrl: string | null;
  /** Response targets for patients' messages, in minutes (null: none, no escalation). */
  routineResponseMinutes: number | null;
  urgentResponseMinutes: number | null;
  responseTimeBasis: ResponseTimeBasis;
  /** Minutes after the first escalation (to the responders) that the role group is told too (null: never). */
  secondEscalationMinutes: number | null;
  /** Patients may mark a message URGENT. */
  patientsCanMarkUrgent: boolean;
  updatedAt: Date | null;
}

/** What an organisation that never changed its settings gets (the same as the table's defaults). */
export const DEFAULT_SETTINGS: MessagingSettings = {
  staffCanStartConversations: true,
  allStaffCanStartConversations: true,
  conversationStarterIds: [],
  patientsCanStartConversations: false,
  clinicsCanStartConversations: false,
  allStaffRespond: true,
  responderIds: [],
  newPatientMessageRoleGroup: 'Appointment Reminder Admin',
  patientCanReplyDefault: true,
  patientUploadsAllowed: false,
  patientUploadTypes: ['application/pdf', 'image/jpeg', 'image/png'],
  messagingForAllPatientCategories: true,
  messagingPatientCategories: [],
  patientEmailOnStaffReply: true,
  groupHistory: 'FROM_JOINING',
  autoReplyNewConversation: null,
  autoReplyOutsideHours: null,
  autoReplyPeriodHours: 24,
  openingHours: [],
  timeZone: 'UTC',
  smsNotificationsEnabled: false,
  staffNotificationDelayMinutes: 15,
  patientNotificationDelayMinutes: 5,
  notificationDigestHour: 8,
  patientPortalUrl: null,
  staffPortalUrl: null,
  routineResponseMinutes: null,
  urgentResponseMinutes: null,
  responseTimeBasis: 'OPENING_HOURS',
  secondEscalationMinutes: null,
  patientsCanMarkUrgent: false,
  updatedAt: null,
};

const portalUrl = z
  .string()
  .trim()
  .max(500)
  .refine((text) => text === '' || /^https?:\/\/[^\s]+$/.test(text), 'A portal address is an http(s) URL (empty: the default).')
  .transform((text) => text.replace(/\/+$/, ''));

const ids = (label: string) =>
  z
    .array(uuid(label))
    .max(500)
    .transform((list) => [...new Set(list)]);

/** Up to 30 days; 0 turns the target off. */
const responseMinutes = z.number().int().min(0, 'Minutes are 0 (none) or more.').max(43_200, 'At most 43200 minutes (30 days).');

export const GROUP_HISTORY = ['FROM_JOINING', 'EVERYTHING'] as const;
export type GroupHistory = (typeof GROUP_HISTORY)[number];

const updateInput = z.object({
  groupHistory: z.enum(GROUP_HISTORY).nullish(),
  staffCanStartConversations: z.boolean().nullish(),
  allStaffCanStartConversations: z.boolean().nullish(),
  conversationStarterTeamMemberIds: ids('A team member id').nullish(),
  patientsCanStartConversations: z.boolean().nullish(),
  clinicsCanStartConversations: z.boolean().nullish(),
  allStaffRespond: z.boolean().nullish(),
  responderTeamMemberIds: ids('A team member id').nullish(),
  newPatientMessageRoleGroup: requiredText('The role group', 100).nullish(),
  patientCanReplyDefault: z.boolean().nullish(),
  patientUploadsAllowed: z.boolean().nullish(),
  patientUploadTypes: z
    .array(z.enum(ATTACHMENT_TYPES, { errorMap: () => ({ message: `Upload types are among ${ATTACHMENT_TYPES.join(', ')}.` }) }))
    .max(ATTACHMENT_TYPES.length)
    .transform((list) => [...new Set(list)])
    .nullish(),
  messagingForAllPatientCategories: z.boolean().nullish(),
  messagingPatientCategories: z
    .array(requiredText('A category', 100))
    .max(200)
    .transform((list) => [...new Set(list)])
    .nullish(),
  patientEmailOnStaffReply: z.boolean().nullish(),
  // An empty text turns the reply off.
  autoReplyNewConversation: z.string().max(2000).transform((text) => text.trim()).nullish(),
  autoReplyOutsideHours: z.string().max(2000).transform((text) => text.trim()).nullish(),
  autoReplyPeriodHours: z.number().int().min(1).max(24 * 30).nullish(),
  openingHours: z
    .array(
      z
        .object({ day: z.enum(WEEKDAYS), opens: clockTime, closes: clockTime })
        .refine((hours) => hours.opens < hours.closes, { message: 'Opening hours close after they open.', path: ['closes'] }),
    )
    .max(50)
    .nullish(),
  timeZone: z.string().refine(isTimeZone, 'Not a known time zone (use an IANA name such as Europe/London).').nullish(),
  smsNotificationsEnabled: z.boolean().nullish(),
  staffNotificationDelayMinutes: z.number().int().min(0).max(1440).nullish(),
  patientNotificationDelayMinutes: z.number().int().min(0).max(1440).nullish(),
  notificationDigestHour: z.number().int().min(0).max(23).nullish(),
  patientPortalUrl: portalUrl.nullish(),
  staffPortalUrl: portalUrl.nullish(),
  // 0 removes the target (or the second escalation).
  routineResponseMinutes: responseMinutes.nullish(),
  urgentResponseMinutes: responseMinutes.nullish(),
  responseTimeBasis: z.enum(RESPONSE_TIME_BASES).nullish(),
  secondEscalationMinutes: responseMinutes.nullish(),
  patientsCanMarkUrgent: z.boolean().nullish(),
});

const COLUMNS: Array<[keyof MessagingSettings, string, string?]> = [
  ['staffCanStartConversations', 'staff_can_start_conversations'],
  ['allStaffCanStartConversations', 'all_staff_can_start'],
  ['conversationStarterIds', 'conversation_starter_ids', 'uuid[]'],
  ['patientsCanStartConversations', 'patients_can_start_conversations'],
  ['clinicsCanStartConversations', 'clinics_can_start_conversations'],
  ['allStaffRespond', 'all_staff_respond'],
  ['responderIds', 'responder_ids', 'uuid[]'],
  ['newPatientMessageRoleGroup', 'new_patient_message_role'],
  ['patientCanReplyDefault', 'patient_can_reply_default'],
  ['patientUploadsAllowed', 'patient_uploads_allowed'],
  ['patientUploadTypes', 'patient_upload_types', 'text[]'],
  ['messagingForAllPatientCategories', 'messaging_for_all_categories'],
  ['messagingPatientCategories', 'messaging_categories', 'text[]'],
  ['patientEmailOnStaffReply', 'patient_email_on_staff_reply'],
  ['groupHistory', 'group_history'],
  ['autoReplyNewConversation', 'auto_reply_new_conversation'],
  ['autoReplyOutsideHours', 'auto_reply_outside_hours'],
  ['autoReplyPeriodHours', 'auto_reply_period_hours'],
  ['openingHours', 'opening_hours', 'jsonb'],
  ['timeZone', 'time_zone'],
  ['smsNotificationsEnabled', 'sms_notifications'],
  ['staffNotificationDelayMinutes', 'staff_notification_delay_minutes'],
  ['patientNotificationDelayMinutes', 'patient_notification_delay_minutes'],
  ['notificationDigestHour', 'notification_digest_hour'],
  ['patientPortalUrl', 'patient_portal_url'],
  ['staffPortalUrl', 'staff_portal_url'],
  ['routineResponseMinutes', 'routine_response_minutes'],
  ['urgentResponseMinutes', 'urgent_response_minutes'],
  ['responseTimeBasis', 'response_time_basis'],
  ['secondEscalationMinutes', 'second_escalation_minutes'],
  ['patientsCanMarkUrgent', 'patients_can_mark_urgent'],
];

/** Fields where 0 means none. */
const MINUTES_OFF = new Set(['routineResponseMinutes', 'urgentResponseMinutes', 'secondEscalationMinutes']);

/** Reads an organisation's messaging settings (defaults when it never saved any). */
export async function loadMessagingSettings(em: EntityManager, organisationId: string): Promise<MessagingSettings> {
  const [row] = await preparedRows(em, 'select * from messaging_settings where organisation_id = ?', [organisationId]);
  if (!row) return { ...DEFAULT_SETTINGS };
  const settings = { updatedAt: new Date(row.updated_at as string) } as MessagingSettings;
  for (const [key, column, cast] of COLUMNS) {
    const value = row[column];
    (settings as unknown as Record<string, unknown>)[key] = cast === 'jsonb' && typeof value === 'string' ? JSON.parse(value) : value;
  }
  return settings;
}

/** Who may message whom in an organisation; read by staff and services, changed with MESSAGING_ADMIN. */
export class MessagingSettingsService {
  private cached?: Promise<MessagingSettings>;

  constructor(
    private readonly scope: RequestScope,
    private readonly deps: { cache: SettingsCache; bus: EventBus },
  ) {}

  /** The caller's organisation's settings, read once per operation (from the process's cache). */
  current(): Promise<MessagingSettings> {
    const actor = this.scope.actor;
    if (!actor || actor.kind === 'operator') throw forbidden();
    return (this.cached ??= this.deps.cache.get(actor.organisationId, () => loadMessagingSettings(this.scope.db, actor.organisationId)));
  }

  /** The settings as staff and services see them; patients learn what they may do from `me`. */
  read(): Promise<MessagingSettings> {
    const actor = this.scope.actor;
    if (actor?.kind !== 'staff' && actor?.kind !== 'service') throw forbidden();
    return this.current();
  }

  /** Changes the fields given (MESSAGING_ADMIN); the others stay as they are. */
  async update(input: unknown): Promise<MessagingSettings> {
    const actor = this.scope.actor;
    if (actor?.kind !== 'staff') throw forbidden();
    if (!can(actor, 'manageSettings')) throw new UserError(UserErrorCode.FORBIDDEN, 'Messaging settings need the Messaging Admin permission.');
    const data = parseInput(updateInput, input);
    const { organisationId } = actor;
    const updated = await auditedTransaction(this.scope, async (em) => {
      // The row is locked while the change is merged in: two admins saving at once both count.
      await em.execute('insert into messaging_settings (organisation_id) values (?) on conflict do nothing', [organisationId]);
      await em.execute('select 1 from messaging_settings where organisation_id = ? for update', [organisationId]);
      const merged: MessagingSettings = await loadMessagingSettings(em, organisationId);
      await this.save(em, actor.teamMemberId, organisationId, merged, data);
      this.cached = undefined;
      return loadMessagingSettings(em, organisationId);
    });
    // Committed: this process forgets the old settings at once, the others when the notice arrives.
    this.deps.cache.invalidate(organisationId);
    await this.deps.bus.publish({ kind: 'settings', organisationId });
    return updated;
  }

  private async save(em: EntityManager, teamMemberId: string, organisationId: string, merged: MessagingSettings, data: z.output<typeof updateInput>): Promise<void> {
    for (const [key, given] of Object.entries(data)) {
      if (given === undefined || given === null) continue;
      // An empty automatic reply text turns that reply off, as 0 minutes does a response target.
      const value = given === '' || (given === 0 && MINUTES_OFF.has(key)) ? null : given;
      const target = key === 'conversationStarterTeamMemberIds' ? 'conversationStarterIds' : key === 'responderTeamMemberIds' ? 'responderIds' : key;
      (merged as unknown as Record<string, unknown>)[target] = value;
    }
    // Digest times are computed by PostgreSQL: the zone must be one it knows too, by name (not an offset).
    if (data.timeZone && (await em.execute('select 1 from pg_timezone_names where name = ?', [data.timeZone])).length === 0) {
      throw new UserError(UserErrorCode.INVALID_INPUT, 'Not a known time zone (use an IANA name such as Europe/London).', 'input.timeZone');
    }
    await assertActivePeople(em, organisationId, TeamMember, data.conversationStarterTeamMemberIds ?? [], 'input.conversationStarterTeamMemberIds');
    await assertActivePeople(em, organisationId, TeamMember, data.responderTeamMemberIds ?? [], 'input.responderTeamMemberIds');
    if (merged.staffCanStartConversations && !merged.allStaffCanStartConversations && merged.conversationStarterIds.length === 0) {
      throw new UserError(UserErrorCode.INVALID_INPUT, 'Name at least one team member who may start conversations, or let all of them.', 'input.conversationStarterTeamMemberIds');
    }
    if ((merged.patientsCanStartConversations || merged.clinicsCanStartConversations) && !merged.allStaffRespond && merged.responderIds.length === 0) {
      throw new UserError(UserErrorCode.INVALID_INPUT, 'Name at least one team member who responds to patients and clinics, or let all of them.', 'input.responderTeamMemberIds');
    }
    const values = COLUMNS.map(([key, , cast]) => {
      const value = merged[key];
      if (cast === 'jsonb') return JSON.stringify(value);
      return cast === 'uuid[]' ? uuidArray(value as string[]) : cast === 'text[]' ? textArray(value as string[]) : value;
    });
    const placeholders = COLUMNS.map(([, , cast]) => (cast ? `?::${cast}` : '?'));
    await em.execute(
      `insert into messaging_settings (organisation_id, ${COLUMNS.map(([, column]) => column).join(', ')}, updated_by_team_member_id)
       values (?, ${placeholders.join(', ')}, ?)
       on conflict (organisation_id) do update set ${COLUMNS.map(([, column]) => `${column} = excluded.${column}`).join(', ')},
         updated_by_team_member_id = excluded.updated_by_team_member_id, updated_at = now()`,
      [organisationId, ...values, teamMemberId],
    );
  }

  /** May the caller start a conversation under these settings (a patient: and is messaging open to them)? */
  async canStartConversation(actor: Actor | undefined): Promise<boolean> {
    if (!isPerson(actor)) return false;
    const settings = await this.current();
    if (actor.kind === 'patient') {
      const me = await this.scope.loaders.patient.load(actor.patientId);
      return settings.patientsCanStartConversations && !!me && me.portalAccess && entitlementBlockers(me, settings).length === 0;
    }
    return settings.staffCanStartConversations && (settings.allStaffCanStartConversations || settings.conversationStarterIds.includes(actor.teamMemberId));
  }

  /** May the caller attach files to messages? Staff always; patients where the settings allow. */
  async canUploadAttachments(actor: Actor | undefined): Promise<boolean> {
    if (actor?.kind === 'staff') return true;
    if (actor?.kind !== 'patient') return false;
    return (await this.current()).patientUploadsAllowed;
  }
}
