import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { z } from 'zod';
import type { Context } from '../../graphql/context';
import type { OrganisationActor } from '../../auth/actor';
import { UserError, UserErrorCode, forbidden } from '../../errors';
import { email, parseInput, phone, requiredText, uuid } from '../../common/validation';
import { PERMISSIONS, TeamMember } from './team-member.entity';
import { Patient, PatientGuardian } from './patient.entity';
import { withEventLog } from '../../realtime/event-log';

const externalId = requiredText('The external id', 200);

const teamMemberInput = z.object({
  externalId,
  name: requiredText('The name', 200),
  email,
  roles: z.array(requiredText('A role', 100)).max(50).nullish(),
  permissions: z.array(z.enum(PERMISSIONS)).max(PERMISSIONS.length).nullish(),
});

const patientInput = z.object({
  externalId,
  name: requiredText('The name', 200),
  email,
  phone,
  portalAccess: z.boolean().nullish(),
  messagingEnabled: z.boolean().nullish(),
  allocationClinicianId: uuid('The allocation clinician id').nullish(),
  guardianOfPatientIds: z.array(uuid('A dependant id')).max(20).nullish(),
});

const archiveInput = z.object({ teamMemberId: uuid('The team member id') });

/** Team members and patients, as synchronised by a partner integration (a service token). */
export class DirectoryService {
  constructor(private readonly context: Context) {}

  private serviceActor(): OrganisationActor {
    const actor = this.context.actor;
    if (actor?.kind !== 'service') throw forbidden();
    return actor;
  }

  async upsertTeamMember(input: unknown): Promise<TeamMember> {
    const { organisationId } = this.serviceActor();
    const data = parseInput(teamMemberInput, input);
    return this.retryOnRace(async () => {
      const em = this.context.em;
      const member =
        (await em.findOne(TeamMember, { organisationId, externalId: data.externalId })) ??
        em.create(TeamMember, { organisationId, externalId: data.externalId, name: data.name });
      member.name = data.name;
      if (data.email !== undefined) member.email = data.email;
      if (data.roles != null) member.roles = [...new Set(data.roles)];
      if (data.permissions != null) member.permissions = [...new Set(data.permissions)];
      await em.flush();
      return member;
    });
  }

  /**
   * Archives a team member; their tokens are refused from now on and every process closes their
   * open connections at once. Archiving again changes nothing.
   */
  async archiveTeamMember(input: unknown): Promise<TeamMember> {
    const { organisationId } = this.serviceActor();
    const { teamMemberId } = parseInput(archiveInput, input);
    const member = await this.context.em.findOne(TeamMember, { organisationId, id: teamMemberId });
    if (!member) throw new UserError(UserErrorCode.NOT_FOUND, 'No such team member.', 'input.teamMemberId');
    if (!member.archivedAt) {
      member.archivedAt = new Date();
      await this.context.em.flush();
    }
    await this.context.deps.bus.publish({ kind: 'revoke', organisationId, teamMemberId });
    return member;
  }

  async upsertPatient(input: unknown): Promise<Patient> {
    const { organisationId } = this.serviceActor();
    const data = parseInput(patientInput, input);
    // One transaction: the patient, their guardians, and the channels activation rules open for a new patient.
    return this.retryOnRace(() =>
      withEventLog(this.context.em, this.context.deps.bus, organisationId, undefined, async (log) => {
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
        if (data.allocationClinicianId !== undefined) patient.allocationClinicianId = data.allocationClinicianId;
        await em.flush();
        if (data.guardianOfPatientIds != null) await this.replaceDependants(em, patient, [...new Set(data.guardianOfPatientIds)]);
        if (!existing) await this.context.services.activationRules.applyToNewPatient(log, organisationId, patient.id, patient.allocationClinicianId);
        return patient;
      }),
    );
  }

  private async replaceDependants(em: Context['em'], guardian: Patient, dependantIds: string[]): Promise<void> {
    const { organisationId } = guardian;
    if (dependantIds.includes(guardian.id)) {
      throw new UserError(UserErrorCode.INVALID_INPUT, 'A patient cannot be their own guardian.', 'input.guardianOfPatientIds');
    }
    const found = await em.count(Patient, { organisationId, id: { $in: dependantIds } });
    if (found !== dependantIds.length) throw new UserError(UserErrorCode.NOT_FOUND, 'No such patient.', 'input.guardianOfPatientIds');
    await em.nativeDelete(PatientGuardian, { organisationId, guardianPatientId: guardian.id });
    for (const dependantPatientId of dependantIds) {
      em.create(PatientGuardian, { organisationId, guardianPatientId: guardian.id, dependantPatientId });
    }
  }

  /** Two syncs creating the same person at once: the loser retries and updates instead. */
  private async retryOnRace<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
      this.context.em.clear();
      return work();
    }
  }
}
