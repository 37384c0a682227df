import type { Permission } from '../modules/directory/team-member.entity';
import { forbidden, unauthenticated } from '../errors';

/** Who is calling. Organisation-bound actors carry the organisation's id; operators carry none. */
export type Actor =
  | { kind: 'staff'; organisationId: string; teamMemberId: string; permissions: readonly Permission[]; roles: readonly string[]; expiresAt: number }
  | { kind: 'patient'; organisationId: string; patientId: string; expiresAt: number }
  | { kind: 'service'; organisationId: string; clientId: string; expiresAt: number }
  | { kind: 'operator'; operatorId: string; expiresAt: number };

export type OrganisationActor = Exclude<Actor, { kind: 'operator' }>;
export type StaffActor = Extract<Actor, { kind: 'staff' }>;
export type PatientActor = Extract<Actor, { kind: 'patient' }>;
export type ServiceActor = Extract<Actor, { kind: 'service' }>;
/** Team members and patients: the people who take part in channels. */
export type PersonActor = StaffActor | PatientActor;

export function isPerson(actor: Actor | undefined): actor is PersonActor {
  return actor?.kind === 'staff' || actor?.kind === 'patient';
}

/** A person's own id, under the column name of their kind (channel members, events, typing notices). */
export function personIdOf(actor: PersonActor): { teamMemberId: string; patientId?: undefined } | { patientId: string; teamMemberId?: undefined } {
  return actor.kind === 'staff' ? { teamMemberId: actor.teamMemberId } : { patientId: actor.patientId };
}

/** The caller as a team member; UNAUTHENTICATED without a token, FORBIDDEN for other roles. */
export function requireStaff(actor: Actor | undefined): StaffActor {
  if (!actor) throw unauthenticated();
  if (actor.kind !== 'staff') throw forbidden();
  return actor;
}

/** The caller as a team member or patient; UNAUTHENTICATED without a token, FORBIDDEN for other roles. */
export function requirePerson(actor: Actor | undefined): PersonActor {
  if (!actor) throw unauthenticated();
  if (!isPerson(actor)) throw forbidden();
  return actor;
}
