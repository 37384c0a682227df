import type { EntityManager } from '@mikro-orm/postgresql';
import { preparedRows } from '../../db/prepared';
import { selectColumns, textArray, typedRow, uuidArray } from '../../db/sql';
import { Patient } from './patient.entity';

/** Which end of a guardian link the given patients are at. */
export type GuardianLinkEnd = 'guardian' | 'dependant';

/** The active (not archived) patient `p` at the `to` end of guardian link `l`. */
const activeLinked = (p: string, toColumn: string) => `join patient ${p} on ${p}.organisation_id = l.organisation_id and ${p}.id = l.${toColumn} and ${p}.archived_at is null`;

/**
 * The active (not archived) patients at the other end of each patient's guardian links, in one
 * statement: a dependant's guardians, or a guardian's dependants.
 */
export async function linkedPatients(em: EntityManager, organisationId: string, from: GuardianLinkEnd, patientIds: readonly string[]): Promise<Patient[][]> {
  const [fromColumn, toColumn] = from === 'dependant' ? ['dependant_patient_id', 'guardian_patient_id'] : ['guardian_patient_id', 'dependant_patient_id'];
  const rows = await preparedRows<Array<Record<string, unknown> & { linked_from: string }>>(
    em,
    `select l.${fromColumn} as linked_from, p.* from patient_guardian l ${activeLinked('p', toColumn)}
      where l.organisation_id = ? and l.${fromColumn} = any(?::uuid[])
      order by l.created_at, p.id`,
    [organisationId, uuidArray(patientIds)],
  );
  const linked = rows.map(({ linked_from, ...patient }) => ({ from: linked_from, patient: em.map(Patient, patient) }));
  return patientIds.map((id) => linked.filter((link) => link.from === id).map((link) => link.patient));
}

/** A patient with their active guardians. */
export interface PatientWithGuardians {
  patient?: Patient;
  guardians: Patient[];
}

/**
 * Patients (`p`) each with their active guardians (column "guardiansOfPatient", JSON), as plain
 * rows under the entity's property names: add the where clause.
 */
export const patientsWithGuardiansSelect = (em: EntityManager) =>
  `select ${selectColumns(em, Patient, 'p')},
          (select coalesce(json_agg((select g_row from (select ${selectColumns(em, Patient, 'g')}) g_row) order by l.created_at, g.id), '[]')
             from patient_guardian l ${activeLinked('g', 'guardian_patient_id')}
            where l.organisation_id = p.organisation_id and l.dependant_patient_id = p.id) as "guardiansOfPatient"
     from patient p`;

/** A row of `patientsWithGuardiansSelect`: plain objects, not ORM entities (only the messaging preconditions are checked against them). */
export function patientWithGuardiansFromSelected({ guardiansOfPatient, ...patient }: Record<string, unknown>): PatientWithGuardians {
  return { patient: patientFromSelected(patient), guardians: (guardiansOfPatient as Record<string, unknown>[]).map(patientFromSelected) };
}

/**
 * Patients by id, each with their active guardians, in one statement (what a message to a patient
 * is checked against: see write-policy.ts).
 */
export async function patientsWithGuardians(em: EntityManager, organisationId: string, patientIds: readonly string[]): Promise<PatientWithGuardians[]> {
  const rows = await preparedRows<Array<Record<string, unknown>>>(em, `${patientsWithGuardiansSelect(em)} where p.organisation_id = ? and p.id = any(?::uuid[])`, [organisationId, uuidArray(patientIds)]);
  const found = new Map(rows.map((row) => [row.id as string, patientWithGuardiansFromSelected(row)]));
  return patientIds.map((id) => found.get(id) ?? { guardians: [] });
}

const PATIENT_KINDS = { dates: ['archivedAt', 'createdAt', 'updatedAt'] };
/** A patient row selected with `selectColumns` (dates in JSON arrive as text): a plain object, not an ORM entity. */
const patientFromSelected = (row: Record<string, unknown>) => typedRow<Patient>(row, PATIENT_KINDS);

/**
 * The role groups active (not archived) team members of an organisation hold, sorted; with
 * `only`, just those of them (whether each is held by someone).
 */
export async function heldRoleGroups(em: EntityManager, organisationId: string, only?: readonly string[]): Promise<string[]> {
  const rows = await preparedRows<Array<{ role: string }>>(em,
    `select distinct role from team_member tm cross join unnest(tm.roles) as role
      where tm.organisation_id = ? and tm.archived_at is null${only ? ' and role = any(?::text[])' : ''}
      order by role`,
    [organisationId, ...(only ? [textArray(only)] : [])],
  );
  return rows.map((row) => row.role);
}

/** The names of an organisation's team members, archived ones included (a patient must not pass for either). */
export async function teamMemberNames(em: EntityManager, organisationId: string): Promise<string[]> {
  const rows = await preparedRows<Array<{ name: string }>>(em, 'select name from team_member where organisation_id = ?', [organisationId]);
  return rows.map((row) => row.name);
}
