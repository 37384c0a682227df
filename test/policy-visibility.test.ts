import { visibilityClassOf, type ClassifiedViewer } from '../src/policy/visibility-class';
import { eventPolicy } from '../src/policy/events';
import { peopleOf, type LoadedEvent } from '../src/realtime/event-batch';

/** Visibility classes: one function of (viewer, event), the key a later change shares one execution by. */
const staff: ClassifiedViewer = { kind: 'staff', key: 't:staff-1' };
const otherStaff: ClassifiedViewer = { kind: 'staff', key: 't:staff-2' };
const patient: ClassifiedViewer = { kind: 'patient', key: 'p:patient-1' };
const otherPatient: ClassifiedViewer = { kind: 'patient', key: 'p:patient-2' };
const guardian: ClassifiedViewer = { kind: 'patient', key: 'p:guardian-1', dependantKeys: new Set(['p:patient-1']) };

const record = (over: Partial<{ staffOnly: boolean; subjectOnly: boolean; subjectTeamMemberId: string | null; subjectPatientId: string | null }> = {}) => ({
  staffOnly: false,
  subjectOnly: false,
  subjectTeamMemberId: null,
  subjectPatientId: null,
  ...over,
});
const people = (...keys: string[]) => ({ keys: new Set(keys) });

describe('visibility classes', () => {
  it('a message by staff to a patient channel: all staff share a class, all patients not named in it share another', () => {
    const event = record();
    const named = people('t:staff-1', 'p:patient-1');
    expect(visibilityClassOf(otherStaff, event, named)).toBe('staff');
    expect(visibilityClassOf(otherPatient, event, named)).toBe('patient');
    expect(visibilityClassOf(staff, event, named)).toBe('person:t:staff-1');
    expect(visibilityClassOf(patient, event, named)).toBe('person:p:patient-1');
    // The guardian sees their dependant's real name: a class of their own.
    expect(visibilityClassOf(guardian, event, named)).toBe('person:p:guardian-1');
  });

  it('staff-only events have no class for patients or guardians; staff keep theirs', () => {
    const note = record({ staffOnly: true });
    expect(visibilityClassOf(otherStaff, note, people('t:staff-1'))).toBe('staff');
    expect(visibilityClassOf(patient, note, people('t:staff-1'))).toBeUndefined();
    expect(visibilityClassOf(guardian, note, people('t:staff-1'))).toBeUndefined();
  });

  it('an event about one member only (read mark, archive, mute) is theirs alone', () => {
    const read = record({ subjectOnly: true, subjectPatientId: 'patient-1' });
    expect(visibilityClassOf(patient, read, people('p:patient-1'))).toBe('person:p:patient-1');
    expect(visibilityClassOf(otherPatient, read, people('p:patient-1'))).toBeUndefined();
    expect(visibilityClassOf(staff, read, people('p:patient-1'))).toBeUndefined();
  });

  it('agrees with the event policy: a class exactly when the viewer may see the event', () => {
    const viewers = [staff, otherStaff, patient, otherPatient, guardian];
    const records = [record(), record({ staffOnly: true }), record({ subjectOnly: true, subjectTeamMemberId: 'staff-1' }), record({ subjectOnly: true, subjectPatientId: 'patient-2' })];
    for (const viewer of viewers) for (const event of records) expect(visibilityClassOf(viewer, event, people()) !== undefined).toBe(eventPolicy.canSee(viewer, event));
  });

  it('typing: never one’s own notice, internal-note typing for staff only', () => {
    expect(eventPolicy.canSeeTyping(staff, { staffOnly: false, teamMemberId: 'staff-1' })).toBe(false);
    expect(eventPolicy.canSeeTyping(otherStaff, { staffOnly: true, teamMemberId: 'staff-1' })).toBe(true);
    expect(eventPolicy.canSeeTyping(patient, { staffOnly: true, teamMemberId: 'staff-1' })).toBe(false);
    expect(eventPolicy.canSeeTyping(patient, { staffOnly: false, teamMemberId: 'staff-1' })).toBe(true);
  });

  it('an event names its actor, subject, message author, the patient written for, the member and the channel patient', () => {
    const event = {
      record: { channelId: 'c1', messageId: 'm1', memberId: 'cm1', actorTeamMemberId: null, actorPatientId: 'guardian-1', subjectTeamMemberId: 'staff-9', subjectPatientId: null },
      related: {
        messages: [{ id: 'm1', authorTeamMemberId: null, authorPatientId: 'guardian-1', onBehalfOfPatientId: 'patient-1' }],
        members: [{ id: 'cm1', teamMemberId: 'staff-3', patientId: null }],
        channels: [{ id: 'c1', patientId: 'patient-1' }],
        teamMembers: [],
        patients: [],
      },
    } as unknown as LoadedEvent;
    expect([...peopleOf(event).keys].sort()).toEqual(['p:guardian-1', 'p:patient-1', 't:staff-3', 't:staff-9']);
    // So the guardian's own view of it is theirs, and another patient shares the plain patient class.
    expect(visibilityClassOf(guardian, event.record, peopleOf(event))).toBe('person:p:guardian-1');
    expect(visibilityClassOf(otherPatient, event.record, peopleOf(event))).toBe('patient');
  });
});
