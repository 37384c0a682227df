import { z } from 'zod';
import type { RequestScope } from '../../graphql/context';
import { auditedTransaction } from '../audit/audit-log';
import { can } from '../../policy/permissions';
import type { EventLogTransaction } from '../../realtime/event-log';
import { UserError, UserErrorCode, forbidden } from '../../errors';
import { parseInput, uuid } from '../../common/validation';
import { TeamMember } from '../directory/team-member.entity';
import { ChannelKind } from './channel.entity';
import { addMembers } from './membership';
import { assertActivePeople } from '../directory/active-people';
import { uuidArray } from '../../db/sql';

export const AUTO_KINDS = [ChannelKind.CARE_TEAM, ChannelKind.SERVICE_TEAM] as const;

export interface ActivationRule {
  kind: ChannelKind;
  autoActivate: boolean;
  teamMemberIds: string[];
}

const ruleInput = z
  .object({
    kind: z.nativeEnum(ChannelKind).refine((kind) => (AUTO_KINDS as readonly ChannelKind[]).includes(kind), {
      message: 'Activation rules are for CARE_TEAM and SERVICE_TEAM channels.',
      params: { code: UserErrorCode.UNSUPPORTED_CHANNEL_KIND },
    }),
    autoActivate: z.boolean(),
    teamMemberIds: z.array(uuid('A team member id')).max(50).transform((ids) => [...new Set(ids)]),
  })
  .refine((rule) => !rule.autoActivate || rule.teamMemberIds.length > 0, {
    message: 'Automatic activation needs at least one team member: a patient channel always has one.',
    path: ['teamMemberIds'],
  });

/** Which patient channels activate by themselves when a patient is created, and who is in them. */
export class ActivationRuleService {
  constructor(private readonly scope: RequestScope) {}

  /** The rules of the caller's organisation (staff); kinds without a rule do not auto-activate. */
  async list(): Promise<ActivationRule[]> {
    const actor = this.scope.actor;
    if (actor?.kind !== 'staff' && actor?.kind !== 'service') throw forbidden();
    const rows = await this.rows(this.scope.em, actor.organisationId);
    return AUTO_KINDS.map((kind) => rows.find((rule) => rule.kind === kind) ?? { kind, autoActivate: false, teamMemberIds: [] });
  }

  /** Sets the rule of one kind (MESSAGING_ADMIN). */
  async update(input: unknown): Promise<ActivationRule> {
    const actor = this.scope.actor;
    if (actor?.kind !== 'staff') throw forbidden();
    if (!can(actor, 'manageActivationRules')) throw new UserError(UserErrorCode.FORBIDDEN, 'Activation rules need the Messaging Admin permission.');
    const rule = parseInput(ruleInput, input);
    const { organisationId } = actor;
    await assertActivePeople(this.scope.em, organisationId, TeamMember, rule.teamMemberIds, 'input.teamMemberIds');
    await auditedTransaction(this.scope, (em) =>
      em.execute(
      `insert into activation_rule (organisation_id, kind, auto_activate, team_member_ids) values (?, ?, ?, ?::uuid[])
       on conflict (organisation_id, kind) do update set auto_activate = excluded.auto_activate, team_member_ids = excluded.team_member_ids, updated_at = now()`,
      [organisationId, rule.kind, rule.autoActivate, uuidArray(rule.teamMemberIds)],
      ),
    );
    return rule;
  }

  /**
   * Runs inside the transaction that creates a patient: activates each auto-activating kind with
   * the patient and the rule's active team members (the allocation clinician when none is left).
   */
  async applyToNewPatient(log: EventLogTransaction, organisationId: string, patientId: string, allocationClinicianId: string | null | undefined): Promise<void> {
    for (const rule of await this.rows(log.em, organisationId)) {
      if (!rule.autoActivate) continue;
      const active = rule.teamMemberIds.length
        ? (await log.em.find(TeamMember, { organisationId, id: { $in: rule.teamMemberIds }, archivedAt: null })).map((member) => member.id)
        : [];
      const staff = active.length ? active : allocationClinicianId ? [allocationClinicianId] : [];
      if (staff.length === 0) {
        this.scope.logger.warn({ kind: rule.kind }, 'activation rule has no active team member left; channel not activated');
        continue;
      }
      const [{ id: channelId }] = await log.em.execute<{ id: string }[]>(
        'insert into channel (organisation_id, id, kind, patient_id) values (?, gen_random_uuid(), ?, ?) returning id',
        [organisationId, rule.kind, patientId],
      );
      await addMembers(log, organisationId, channelId, [{ patientId }, ...staff.map((teamMemberId) => ({ teamMemberId }))]);
    }
  }

  private async rows(em: RequestScope['em'], organisationId: string): Promise<ActivationRule[]> {
    const rows = await em.execute<Array<{ kind: ChannelKind; auto_activate: boolean; team_member_ids: string[] }>>(
      'select kind, auto_activate, team_member_ids from activation_rule where organisation_id = ?',
      [organisationId],
    );
    return rows.map((row) => ({ kind: row.kind, autoActivate: row.auto_activate, teamMemberIds: row.team_member_ids }));
  }
}
