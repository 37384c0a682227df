import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Context } from '../../graphql/context';
import type { Actor } from '../../auth/actor';
import { UserError, UserErrorCode, forbidden } from '../../errors';
import { parseInput, requiredText, uuid } from '../../common/validation';
import { textArray, uuidArray } from '../../db/sql';
import { TeamMember } from '../directory/team-member.entity';
import { assertActivePeople } from '../directory/active-people';
import { entitlementBlockers } from './messageability';

/** File types an organisation may let patients upload (checked by content when uploaded). */
export const PATIENT_UPLOAD_TYPES = ['application/pdf', 'image/jpeg', 'image/png', 'image/gif', 'image/webp', 'video/mp4', 'video/quicktime'] as const;

export interface MessagingSettings {
  staffCanStartConversations: boolean;
  allStaffCanStartConversations: boolean;
  conversationStarterIds: string[];
  patientsCanStartConversations: boolean;
  allStaffRespond: boolean;
  responderIds: string[];
  newPatientMessageRoleGroup: string;
  patientCanReplyDefault: boolean;
  patientUploadsAllowed: boolean;
  patientUploadTypes: string[];
  messagingForAllPatientCategories: boolean;
  messagingPatientCategories: string[];
  patientEmailOnStaffReply: boolean;
  updatedAt: Date | null;
}

/** What an organisation that never changed its settings gets (the same as the table's defaults). */
export const DEFAULT_SETTINGS: MessagingSettings = {
  staffCanStartConversations: true,
  allStaffCanStartConversations: true,
  conversationStarterIds: [],
  patientsCanStartConversations: false,
  allStaffRespond: true,
  responderIds: [],
  newPatientMessageRoleGroup: 'Appointment Reminder Admin',
  patientCanReplyDefault: true,
  patientUploadsAllowed: false,
  patientUploadTypes: ['application/pdf', 'image/jpeg', 'image/png'],
  messagingForAllPatientCategories: true,
  messagingPatientCategories: [],
  patientEmailOnStaffReply: true,
  updatedAt: null,
};

const ids = (label: string) =>
  z
    .array(uuid(label))
    .max(500)
    .transform((list) => [...new Set(list)]);

const updateInput = z.object({
  staffCanStartConversations: z.boolean().nullish(),
  allStaffCanStartConversations: z.boolean().nullish(),
  conversationStarterTeamMemberIds: ids('A team member id').nullish(),
  patientsCanStartConversations: z.boolean().nullish(),
  allStaffRespond: z.boolean().nullish(),
  responderTeamMemberIds: ids('A team member id').nullish(),
  newPatientMessageRoleGroup: requiredText('The role group', 100).nullish(),
  patientCanReplyDefault: z.boolean().nullish(),
  patientUploadsAllowed: z.boolean().nullish(),
  patientUploadTypes: z
    .array(z.enum(PATIENT_UPLOAD_TYPES, { errorMap: () => ({ message: `Upload types are among ${PATIENT_UPLOAD_TYPES.join(', ')}.` }) }))
    .max(PATIENT_UPLOAD_TYPES.length)
    .transform((list) => [...new Set(list)])
    .nullish(),
  messagingForAllPatientCategories: z.boolean().nullish(),
  messagingPatientCategories: z
    .array(requiredText('A category', 100))
    .max(200)
    .transform((list) => [...new Set(list)])
    .nullish(),
  patientEmailOnStaffReply: z.boolean().nullish(),
});

const COLUMNS: Array<[keyof MessagingSettings, string, string?]> = [
  ['staffCanStartConversations', 'staff_can_start_conversations'],
  ['allStaffCanStartConversations', 'all_staff_can_start'],
  ['conversationStarterIds', 'conversation_starter_ids', 'uuid[]'],
  ['patientsCanStartConversations', 'patients_can_start_conversations'],
  ['allStaffRespond', 'all_staff_respond'],
  ['responderIds', 'responder_ids', 'uuid[]'],
  ['newPatientMessageRoleGroup', 'new_patient_message_role'],
  ['patientCanReplyDefault', 'patient_can_reply_default'],
  ['patientUploadsAllowed', 'patient_uploads_allowed'],
  ['patientUploadTypes', 'patient_upload_types', 'text[]'],
  ['messagingForAllPatientCategories', 'messaging_for_all_categories'],
  ['messagingPatientCategories', 'messaging_categories', 'text[]'],
  ['patientEmailOnStaffReply', 'patient_email_on_staff_reply'],
];

/** Reads an organisation's messaging settings (defaults when it never saved any). */
export async function loadMessagingSettings(em: EntityManager, organisationId: string): Promise<MessagingSettings> {
  const [row] = await em.execute<Array<Record<string, unknown>>>(`select * from messaging_settings where organisation_id = ?`, [organisationId]);
  if (!row) return { ...DEFAULT_SETTINGS };
  const settings = { updatedAt: new Date(row.updated_at as string) } as MessagingSettings;
  for (const [key, column] of COLUMNS) (settings as unknown as Record<string, unknown>)[key] = row[column];
  return settings;
}

/** Who may message whom in an organisation; read by staff and services, changed with MESSAGING_ADMIN. */
export class MessagingSettingsService {
  private cached?: Promise<MessagingSettings>;

  constructor(private readonly context: Context) {}

  /** The caller's organisation's settings, read once per operation. */
  current(): Promise<MessagingSettings> {
    const actor = this.context.actor;
    if (!actor || actor.kind === 'operator') throw forbidden();
    return (this.cached ??= loadMessagingSettings(this.context.em, actor.organisationId));
  }

  /** The settings as staff and services see them; patients learn what they may do from `me`. */
  read(): Promise<MessagingSettings> {
    const actor = this.context.actor;
    if (actor?.kind !== 'staff' && actor?.kind !== 'service') throw forbidden();
    return this.current();
  }

  /** Changes the fields given (MESSAGING_ADMIN); the others stay as they are. */
  async update(input: unknown): Promise<MessagingSettings> {
    const actor = this.context.actor;
    if (actor?.kind !== 'staff') throw forbidden();
    if (!actor.permissions.includes('MESSAGING_ADMIN')) throw new UserError(UserErrorCode.FORBIDDEN, 'Messaging settings need the Messaging Admin permission.');
    const data = parseInput(updateInput, input);
    const { organisationId } = actor;
    return this.context.em.transactional(async (em) => {
      // The row is locked while the change is merged in: two admins saving at once both count.
      await em.execute('insert into messaging_settings (organisation_id) values (?) on conflict do nothing', [organisationId]);
      await em.execute('select 1 from messaging_settings where organisation_id = ? for update', [organisationId]);
      const merged: MessagingSettings = await loadMessagingSettings(em, organisationId);
      await this.save(em, actor.teamMemberId, organisationId, merged, data);
      this.cached = undefined;
      return loadMessagingSettings(em, organisationId);
    });
  }

  private async save(em: EntityManager, teamMemberId: string, organisationId: string, merged: MessagingSettings, data: z.output<typeof updateInput>): Promise<void> {
    for (const [key, value] of Object.entries(data)) {
      if (value === undefined || value === null) continue;
      const target = key === 'conversationStarterTeamMemberIds' ? 'conversationStarterIds' : key === 'responderTeamMemberIds' ? 'responderIds' : key;
      (merged as unknown as Record<string, unknown>)[target] = value;
    }
    await assertActivePeople(em, organisationId, TeamMember, data.conversationStarterTeamMemberIds ?? [], 'input.conversationStarterTeamMemberIds');
    await assertActivePeople(em, organisationId, TeamMember, data.responderTeamMemberIds ?? [], 'input.responderTeamMemberIds');
    if (merged.staffCanStartConversations && !merged.allStaffCanStartConversations && merged.conversationStarterIds.length === 0) {
      throw new UserError(UserErrorCode.INVALID_INPUT, 'Name at least one team member who may start conversations, or let all of them.', 'input.conversationStarterTeamMemberIds');
    }
    if (merged.patientsCanStartConversations && !merged.allStaffRespond && merged.responderIds.length === 0) {
      throw new UserError(UserErrorCode.INVALID_INPUT, 'Name at least one team member who responds to patients, or let all of them.', 'input.responderTeamMemberIds');
    }
    const values = COLUMNS.map(([key, , cast]) => {
      const value = merged[key];
      return cast === 'uuid[]' ? uuidArray(value as string[]) : cast === 'text[]' ? textArray(value as string[]) : value;
    });
    const placeholders = COLUMNS.map(([, , cast]) => (cast === 'uuid[]' ? '?::uuid[]' : cast === 'text[]' ? '?::text[]' : '?'));
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
    if (actor?.kind !== 'staff' && actor?.kind !== 'patient') return false;
    const settings = await this.current();
    if (actor.kind === 'patient') {
      const me = await this.context.loaders.patient.load(actor.patientId);
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
