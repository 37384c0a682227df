import { randomUUID } from 'node:crypto';
import type { Actor } from '../src/auth/actor';
import { Patient } from '../src/modules/directory/patient.entity';
import { TeamMember } from '../src/modules/directory/team-member.entity';
import { peoplePolicy, type DependantsOf, type Person } from '../src/policy/people';

/*
 * The people policy, rule by rule, against every kind of viewer: what one actor may see of a
 * team member or a patient. No server: entities and actors are built here.
 *
 * One organisation holds a team member (`staff`), a colleague of theirs, a patient, that
 * patient's guardian and an unrelated patient. The viewers:
 *   staff           the team member
 *   patient         the patient themself
 *   otherPatient    a patient of the organisation, no relation
 *   guardian        the patient's guardian
 *   service         the organisation's partner integration
 *   operator        platform operator (no organisation)
 *   none            no token
 *   foreignStaff    a team member of another organisation
 *   foreignGuardian a patient of another organisation whose dependant lookup names the patient
 *
 * The rules that name no organisation (seesPatientRecord, seesMessagingBlockers, seesGuardians,
 * seesDependants and findsPatient for staff) answer foreignStaff as any team member: in the
 * server the tenant filter keeps another organisation's patients from reaching them.
 */

const ORGANISATION = randomUUID();
const OTHER_ORGANISATION = randomUUID();

function teamMember(name: string): TeamMember {
  return Object.assign(new TeamMember(), { organisationId: ORGANISATION, externalId: `ext-${name}`, name });
}

function patient(name: string, displayName: string | null = null): Patient {
  return Object.assign(new Patient(), { organisationId: ORGANISATION, externalId: `ext-${name}`, name, displayName });
}

const member = teamMember('Sam Staff');
const colleague = teamMember('Colin Colleague');
const thePatient = patient('Alice Smith');
const theGuardian = patient('Gina Smith');
const otherPatient = patient('Oscar Other');
/** The patient again, with a display name of their choosing. */
const namedPatient = Object.assign(patient('Alice Smith', 'Ali'), { id: thePatient.id });

const VIEWERS = {
  staff: { kind: 'staff', organisationId: ORGANISATION, teamMemberId: member.id, permissions: [], roles: [], expiresAt: 0 },
  patient: { kind: 'patient', organisationId: ORGANISATION, patientId: thePatient.id, expiresAt: 0 },
  otherPatient: { kind: 'patient', organisationId: ORGANISATION, patientId: otherPatient.id, expiresAt: 0 },
  guardian: { kind: 'patient', organisationId: ORGANISATION, patientId: theGuardian.id, expiresAt: 0 },
  service: { kind: 'service', organisationId: ORGANISATION, clientId: 'partner', expiresAt: 0 },
  operator: { kind: 'operator', operatorId: 'op', expiresAt: 0 },
  none: undefined,
  foreignStaff: { kind: 'staff', organisationId: OTHER_ORGANISATION, teamMemberId: randomUUID(), permissions: ['MESSAGING_MANAGEMENT', 'MESSAGING_ADMIN'], roles: [], expiresAt: 0 },
  foreignGuardian: { kind: 'patient', organisationId: OTHER_ORGANISATION, patientId: randomUUID(), expiresAt: 0 },
} satisfies Record<string, Actor | undefined>;
type Viewer = keyof typeof VIEWERS;
const VIEWER_NAMES = Object.keys(VIEWERS) as Viewer[];

/** The guardian links: the guardian's (and, to test the organisation check, foreignGuardian's) dependant is the patient. */
const DEPENDANTS: Record<string, readonly { id: string }[]> = {
  [theGuardian.id]: [thePatient],
  [VIEWERS.foreignGuardian.patientId]: [thePatient],
};
const dependantsOf: DependantsOf = async (guardianPatientId) => DEPENDANTS[guardianPatientId] ?? [];

type Answer = boolean | string;
type Rule = (actor: Actor | undefined, person: Person) => Answer | Promise<Answer>;
const asPatient = (person: Person): Patient => {
  if (!(person instanceof Patient)) throw new Error('a patient rule asked about a team member');
  return person;
};

const RULES = {
  seesDirectoryDetails: (actor, person) => peoplePolicy.seesDirectoryDetails(actor, person),
  seesRealName: (actor, person) => peoplePolicy.seesRealName(actor, asPatient(person), dependantsOf),
  patientDisplayName: (actor, person) => peoplePolicy.patientDisplayName(actor, asPatient(person), dependantsOf),
  seesPatientRecord: (actor) => peoplePolicy.seesPatientRecord(actor),
  seesMessagingBlockers: (actor) => peoplePolicy.seesMessagingBlockers(actor),
  seesGuardians: (actor) => peoplePolicy.seesGuardians(actor),
  seesDependants: (actor, person) => peoplePolicy.seesDependants(actor, asPatient(person)),
  isSelf: (actor, person) => peoplePolicy.isSelf(actor, person),
  looksUpPatients: (actor) => peoplePolicy.looksUpPatients(actor),
  findsPatient: (actor, person) => peoplePolicy.findsPatient(actor, asPatient(person), dependantsOf),
} satisfies Record<keyof typeof peoplePolicy, Rule>;

/** Each row: a rule asked about one person, and the answer every viewer gets. Y: allowed, n: denied. */
type Row = { rule: keyof typeof RULES; about: string; person: Person; expect: Record<Viewer, Answer> };
const Y = true;
const n = false;
const row = (rule: keyof typeof RULES, about: string, person: Person, expect: Record<Viewer, Answer>): Row => ({ rule, about, person, expect });

const MATRIX: Row[] = [
  row('seesDirectoryDetails', 'a team member', colleague, { staff: Y, patient: n, otherPatient: n, guardian: n, service: Y, operator: n, none: n, foreignStaff: n, foreignGuardian: n }),
  row('seesDirectoryDetails', 'the patient', thePatient,  { staff: Y, patient: Y, otherPatient: n, guardian: n, service: Y, operator: n, none: n, foreignStaff: n, foreignGuardian: n }),
  row('seesRealName', 'the patient', thePatient,          { staff: Y, patient: Y, otherPatient: n, guardian: Y, service: Y, operator: n, none: n, foreignStaff: n, foreignGuardian: n }),
  row('patientDisplayName', 'the patient, no display name', thePatient, {
    staff: 'Alice', patient: 'Alice', otherPatient: 'Patient', guardian: 'Alice', service: 'Alice', operator: 'Patient', none: 'Patient', foreignStaff: 'Patient', foreignGuardian: 'Patient',
  }),
  row('patientDisplayName', 'the patient, display name "Ali"', namedPatient, {
    staff: 'Ali', patient: 'Ali', otherPatient: 'Ali', guardian: 'Ali', service: 'Ali', operator: 'Ali', none: 'Ali', foreignStaff: 'Ali', foreignGuardian: 'Ali',
  }),
  row('seesPatientRecord', 'the patient', thePatient,     { staff: Y, patient: n, otherPatient: n, guardian: n, service: Y, operator: n, none: n, foreignStaff: Y, foreignGuardian: n }),
  row('seesMessagingBlockers', 'the patient', thePatient, { staff: Y, patient: n, otherPatient: n, guardian: n, service: n, operator: n, none: n, foreignStaff: Y, foreignGuardian: n }),
  row('seesGuardians', 'the patient', thePatient,         { staff: Y, patient: n, otherPatient: n, guardian: n, service: n, operator: n, none: n, foreignStaff: Y, foreignGuardian: n }),
  row('seesDependants', 'the patient', thePatient,        { staff: Y, patient: Y, otherPatient: n, guardian: n, service: n, operator: n, none: n, foreignStaff: Y, foreignGuardian: n }),
  row('seesDependants', 'the guardian', theGuardian,      { staff: Y, patient: n, otherPatient: n, guardian: Y, service: n, operator: n, none: n, foreignStaff: Y, foreignGuardian: n }),
  row('isSelf', 'the staff member', member,               { staff: Y, patient: n, otherPatient: n, guardian: n, service: n, operator: n, none: n, foreignStaff: n, foreignGuardian: n }),
  row('isSelf', 'a team member', colleague,               { staff: n, patient: n, otherPatient: n, guardian: n, service: n, operator: n, none: n, foreignStaff: n, foreignGuardian: n }),
  row('isSelf', 'the patient', thePatient,                { staff: n, patient: Y, otherPatient: n, guardian: n, service: n, operator: n, none: n, foreignStaff: n, foreignGuardian: n }),
  row('looksUpPatients', 'any patient', thePatient,       { staff: Y, patient: Y, otherPatient: Y, guardian: Y, service: n, operator: n, none: n, foreignStaff: Y, foreignGuardian: Y }),
  row('findsPatient', 'the patient', thePatient,          { staff: Y, patient: Y, otherPatient: n, guardian: Y, service: n, operator: n, none: n, foreignStaff: Y, foreignGuardian: n }),
  row('findsPatient', 'the guardian', theGuardian,        { staff: Y, patient: n, otherPatient: n, guardian: Y, service: n, operator: n, none: n, foreignStaff: Y, foreignGuardian: n }),
];

describe('people policy', () => {
  it('has a row for every rule', () => {
    expect(new Set(MATRIX.map((r) => r.rule))).toEqual(new Set(Object.keys(peoplePolicy)));
  });

  describe.each(MATRIX)('$rule about $about', ({ rule, person, expect: expected }) => {
    it.each(VIEWER_NAMES)('%s', async (viewer) => {
      expect(await RULES[rule](VIEWERS[viewer], person)).toBe(expected[viewer]);
    });
  });

  it('looks up guardian links only for a patient of the organisation who is not the person', async () => {
    const asked: string[] = [];
    const recording: DependantsOf = (guardianPatientId) => {
      asked.push(guardianPatientId);
      return dependantsOf(guardianPatientId);
    };
    for (const viewer of VIEWER_NAMES) {
      await peoplePolicy.seesRealName(VIEWERS[viewer], thePatient, recording);
      await peoplePolicy.findsPatient(VIEWERS[viewer], thePatient, recording);
      await peoplePolicy.patientDisplayName(VIEWERS[viewer], namedPatient, recording);
    }
    expect(asked.sort()).toEqual([otherPatient.id, otherPatient.id, theGuardian.id, theGuardian.id].sort());
  });
});
