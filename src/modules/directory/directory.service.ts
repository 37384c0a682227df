import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import { z } from 'zod';
import { auditedTransaction } from '../audit/audit-log';
import type { RequestScope } from '../../graphql/context';
import type { OrganisationActor, PersonActor, StaffActor } from '../../auth/actor';
import { UserError, UserErrorCode, forbidden } from '../../errors';
import { email, parseInput, personName, phone, requiredText, uuid } from '../../common/validation';
import { impersonation } from '../../policy/names';
import { PERMISSIONS, TeamMember } from './team-member.entity';
import { Patient, PatientGuardian } from './patient.entity';
import { withEventLog, type EventLogTransaction } from '../../realtime/event-log';
import { addMembers, endMemberships } from '../channels/membership';
import { restaffPatientChannels } from '../channels/staffing';
import { uuidArray } from '../../db/sql';
import { heldRoleGroups, teamMemberNames } from './directory.queries';
import { channelPolicy } from '../../policy/channels';
import { Attachment, AttachmentPurpose, AttachmentStatus } from '../attachments/attachment.entity';
import { uploaderColumns } from '../attachments/attachment.service';
import type { ActivationRuleService } from '../channels/activation-rules.service';
import type { EventBus } from '../../realtime/bus';

const externalId = requiredText('The external id', 200);

const teamMemberInput = z.object({
  externalId,
  name: personName('The name', 200),
  email,
  roles: z.array(requiredText('A role', 100)).max(50).nullish(),
  permissions: z.array(z.enum(PERMISSIONS)).max(PERMISSIONS.length).nullish(),
});

const patientInput = z.object({
  externalId,
  name: personName('The name', 200),
  email,
  phone,
  portalAccess: z.boolean().nullish(),
  messagingEnabled: z.boolean().nullish(),
  allocationClinicianId: uuid('The allocation clinician id').nullish(),
  category: requiredText('The category', 100).nullish(),
  guardianOfPatientIds: z.array(uuid('A dependant id')).max(20).nullish(),
  sharedIdentifier: requiredText('The shared identifier', 200).nullish(),
});

const archiveInput = z.object({ teamMemberId: uuid('The team member id') });

const profileInput = z.object({
  displayName: personName('The display name', 50).nullish(),
  avatarAttachmentId: uuid('The avatar attachment id').nullish(),
});

/** What DirectoryService works with besides the request. */
export interface DirectoryServiceDeps {
  bus: EventBus;
  activationRules: ActivationRuleService;
}

/** Team members and patients, as synchronised by a partner integration (a service token). */
export class DirectoryService {
  constructor(private readonly scope: RequestScope, private readonly deps: DirectoryServiceDeps) {}

  private serviceActor(): OrganisationActor {
    const actor = this.scope.actor;
    if (actor?.kind !== 'service') throw forbidden();
    return actor;
  }

  /** The role groups the organisation's active team members hold (staff and services). */
  roleGroups(): Promise<string[]> {
    const actor = this.scope.actor;
    if (actor?.kind !== 'staff' && actor?.kind !== 'service') throw forbidden();
    return heldRoleGroups(this.scope.db, actor.organisationId);
  }

  async upsertTeamMember(input: unknown): Promise<TeamMember> {
    const { organisationId } = this.serviceActor();
    const data = parseInput(teamMemberInput, input);
    const member = await this.retryOnRace(() =>
      auditedTransaction(this.scope, async (em) => {
      const member =
        (await em.findOne(TeamMember, { organisationId, externalId: data.externalId })) ??
        em.create(TeamMember, { organisationId, externalId: data.externalId, name: data.name });
      member.name = data.name;
      if (data.email !== undefined) member.email = data.email;
      if (data.roles != null) member.roles = [...new Set(data.roles)];
      if (data.permissions != null) member.permissions = [...new Set(data.permissions)];
      await em.flush();
      return member;
      }),
    );
    // Their permissions may have changed: every process drops what it cached of them.
    await this.deps.bus.publish({ kind: 'identity', organisationId, teamMemberId: member.id });
    return member;
  }

  /**
   * Archives a team member: their tokens are refused from now on, every process closes their open
   * connections at once, and they leave every channel. Each patient channel left without a team
   * member gets the patient's allocation clinician, or is flagged unstaffed for the messaging
   * admins. One transaction; archiving again changes nothing.
   */
  async archiveTeamMember(input: unknown): Promise<TeamMember> {
    const { organisationId } = this.serviceActor();
    const { teamMemberId } = parseInput(archiveInput, input);
    const { member, unstaffed } = await withEventLog(this.scope, this.deps.bus, organisationId, undefined, async (log) => {
      // Locked: two archives of one person run one after the other, and the second changes nothing.
      const found = await log.em.findOne(TeamMember, { organisationId, id: teamMemberId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!found) throw new UserError(UserErrorCode.NOT_FOUND, 'No such team member.', 'input.teamMemberId');
      if (found.archivedAt) return { member: found, unstaffed: [] };
      found.archivedAt = new Date();
      await log.em.flush();
      const channelIds = await endMemberships(log, organisationId, { teamMemberId });
      return { member: found, unstaffed: await restaffPatientChannels(log, organisationId, channelIds) };
    });
    if (unstaffed.length > 0) this.scope.logger.warn({ teamMemberId, channelIds: unstaffed }, 'patient channels left without a team member: flagged unstaffed');
    await this.deps.bus.publish({ kind: 'revoke', organisationId, teamMemberId });
    return member;
  }

  /**
   * A patient sets the name shown to other patients (null: none) and their avatar; staff still see
   * the real name. A team member sets their avatar (staff always show their real name).
   */
  async updateProfile(input: unknown): Promise<Patient | TeamMember> {
    const actor = this.scope.actor;
    if (actor?.kind === 'staff') return this.updateStaffProfile(actor, parseInput(profileInput, input));
    if (actor?.kind !== 'patient') throw forbidden();
    const data = parseInput(profileInput, input);
    if (data.displayName) {
      // Patients must not pass themselves off as staff in group channels.
      const [names, roleGroups] = await Promise.all([teamMemberNames(this.scope.db, actor.organisationId), heldRoleGroups(this.scope.db, actor.organisationId)]);
      const passesFor = impersonation(data.displayName, names, roleGroups);
      if (passesFor) throw new UserError(UserErrorCode.INVALID_INPUT, `The display name must not look like ${passesFor}.`, 'input.displayName');
    }
    await this.assertOwnAvatar(actor, data.avatarAttachmentId);
    return auditedTransaction(this.scope, async (em) => {
      const patient = await em.findOneOrFail(Patient, { organisationId: actor.organisationId, id: actor.patientId });
      if (data.displayName !== undefined) patient.displayName = data.displayName;
      if (data.avatarAttachmentId !== undefined) patient.avatarAttachmentId = data.avatarAttachmentId;
      await em.flush();
      return patient;
    });
  }

  /** An avatar is a READY image the caller uploaded as one (purpose AVATAR). */
  private async assertOwnAvatar(actor: PersonActor, attachmentId: string | null | undefined): Promise<void> {
    if (!attachmentId) return;
    const avatar = await this.scope.em.findOne(Attachment, {
      organisationId: actor.organisationId,
      id: attachmentId,
      ...uploaderColumns(actor),
      purpose: AttachmentPurpose.AVATAR,
      status: AttachmentStatus.READY,
    });
    if (!avatar) throw new UserError(UserErrorCode.NOT_FOUND, 'No such avatar image: upload one with purpose AVATAR first.', 'input.avatarAttachmentId');
  }

  private async updateStaffProfile(actor: StaffActor, data: z.infer<typeof profileInput>): Promise<TeamMember> {
    if (data.displayName !== undefined) throw new UserError(UserErrorCode.INVALID_INPUT, 'Team members always show their real name: only the avatar can be set.', 'input.displayName');
    await this.assertOwnAvatar(actor, data.avatarAttachmentId);
    return auditedTransaction(this.scope, async (em) => {
      const member = await em.findOneOrFail(TeamMember, { organisationId: actor.organisationId, id: actor.teamMemberId });
      if (data.avatarAttachmentId !== undefined) member.avatarAttachmentId = data.avatarAttachmentId;
      await em.flush();
      return member;
    });
  }

  async upsertPatient(input: unknown): Promise<Patient> {
    const { organisationId } = this.serviceActor();
    const data = parseInput(patientInput, input);
    // One transaction: the patient, their guardians, and the channels activation rules open for a new patient.
    return this.retryOnRace(() =>
      withEventLog(this.scope, this.deps.bus, organisationId, undefined, async (log) => {
        const em = log.em;
        if (data.allocationClinicianId) {
          const clinician = await em.findOne(TeamMember, { organisationId, id: data.allocationClinicianId });
          if (!clinician) throw new UserError(UserErrorCode.NOT_FOUND, 'No such team member.', 'input.allocationClinicianId');
        }
        const existing = await em.findOne(Patient, { organisationId, externalId: data.externalId });
        const patient = existing ?? em.create(Patient, { organisationId, externalId: data.externalId, name: data.name });
        patient.name = data.name;
        if (data.email !== undefined) patient.email = data.email;
        if (data.phone !== undefined) patient.phone = data.phone;
        if (data.portalAccess != null) patient.portalAccess = data.portalAccess;
        if (data.messagingEnabled != null) patient.messagingEnabled = data.messagingEnabled;
        const clinicianChanged = data.allocationClinicianId !== undefined && data.allocationClinicianId !== patient.allocationClinicianId;
        if (data.allocationClinicianId !== undefined) patient.allocationClinicianId = data.allocationClinicianId;
        if (data.category !== undefined) patient.category = data.category;
        if (data.sharedIdentifier !== undefined && data.sharedIdentifier !== patient.sharedIdentifier) {
          const holder = data.sharedIdentifier && (await em.findOne(Patient, { organisationId, sharedIdentifier: data.sharedIdentifier }));
          if (holder) throw new UserError(UserErrorCode.INVALID_INPUT, 'Another patient has this shared identifier.', 'input.sharedIdentifier');
          patient.sharedIdentifier = data.sharedIdentifier;
        }
        await em.flush();
        if (data.guardianOfPatientIds != null) await this.replaceDependants(log, patient, [...new Set(data.guardianOfPatientIds)]);
        if (!existing) await this.deps.activationRules.applyToNewPatient(log, organisationId, patient.id, patient.allocationClinicianId);
        else if (clinicianChanged && patient.allocationClinicianId) await this.staffUnstaffedChannels(log, patient.id);
        return patient;
      }),
    );
  }

  /** A new allocation clinician joins the patient's channels that were left without a team member. */
  private async staffUnstaffedChannels(log: EventLogTransaction, patientId: string): Promise<void> {
    const rows = await log.em.execute<Array<{ id: string }>>('select id from channel where organisation_id = ? and patient_id = ? and unstaffed_since is not null', [
      this.serviceActor().organisationId,
      patientId,
    ]);
    await restaffPatientChannels(
      log,
      this.serviceActor().organisationId,
      rows.map((row) => row.id),
    );
  }

  /**
   * Replaces the patients this patient is the guardian of. A new guardian joins the dependant's
   * care-team, service-team and conversation channels; a former one leaves them (their streams end).
   */
  private async replaceDependants(log: EventLogTransaction, guardian: Patient, dependantIds: string[]): Promise<void> {
    const { em } = log;
    const { organisationId } = guardian;
    if (dependantIds.includes(guardian.id)) {
      throw new UserError(UserErrorCode.INVALID_INPUT, 'A patient cannot be their own guardian.', 'input.guardianOfPatientIds');
    }
    const found = await em.count(Patient, { organisationId, id: { $in: dependantIds } });
    if (found !== dependantIds.length) throw new UserError(UserErrorCode.NOT_FOUND, 'No such patient.', 'input.guardianOfPatientIds');
    // The guardian's row, then every dependant's row concerned, in id order: a channel being
    // opened for a dependant (which reads their guardians under a share lock) waits for this change.
    await em.execute('select 1 from patient where organisation_id = ? and id = ? for update', [organisationId, guardian.id]);
    const current = await em.execute<Array<{ dependant_patient_id: string }>>(
      'select dependant_patient_id from patient_guardian where organisation_id = ? and guardian_patient_id = ?',
      [organisationId, guardian.id],
    );
    const before = current.map((link) => link.dependant_patient_id);
    await em.execute('select 1 from patient where organisation_id = ? and id = any(?::uuid[]) order by id for update', [
      organisationId,
      uuidArray([...new Set([...before, ...dependantIds])]),
    ]);
    const removed = before.filter((id) => !dependantIds.includes(id));
    const added = dependantIds.filter((id) => !before.includes(id));
    if (removed.length > 0) {
      await em.nativeDelete(PatientGuardian, { organisationId, guardianPatientId: guardian.id, dependantPatientId: { $in: removed } });
      await endMemberships(log, organisationId, { guardianPatientId: guardian.id, dependantIds: removed });
    }
    for (const dependantPatientId of added) em.create(PatientGuardian, { organisationId, guardianPatientId: guardian.id, dependantPatientId });
    await em.flush();
    if (added.length === 0) return;
    const channels = await em.execute<Array<{ id: string; patient_id: string }>>(
      `select id, patient_id from channel where organisation_id = ? and patient_id = any(?::uuid[]) and ${channelPolicy.sql.patientSide('channel')}`,
      [organisationId, uuidArray(added)],
    );
    for (const channel of channels) {
      await addMembers(log, organisationId, channel.id, [{ patientId: guardian.id, guardianOfPatientId: channel.patient_id }]);
    }
  }

  /** Two syncs creating the same person at once: the loser retries and updates instead. */
  private async retryOnRace<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
      this.scope.em.clear();
      return work();
    }
  }
}
