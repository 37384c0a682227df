import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from './actor';
import { InvalidTokenError, type TokenVerifier } from './tokens';
import { Organisation } from '../modules/organisations/organisation.entity';
import { TeamMember } from '../modules/directory/team-member.entity';
import { Patient } from '../modules/directory/patient.entity';

export class AuthenticationError extends Error {
  constructor(readonly reason: string) {
    super(`authentication failed: ${reason}`);
  }
}

/** Reads a bearer token from an `Authorization` header value (or a bare token). */
export function bearerToken(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(value);
  if (match) return match[1];
  return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(value.trim()) ? value.trim() : undefined;
}

/**
 * Turns a verified token into an Actor: the organisation must exist, and a staff or patient
 * token must name a person of that organisation who is not archived.
 */
export async function authenticate(em: EntityManager, verifier: TokenVerifier, token: string): Promise<Actor> {
  let claims;
  try {
    claims = await verifier.verify(token);
  } catch (error) {
    if (error instanceof InvalidTokenError) throw new AuthenticationError(error.message);
    throw error;
  }
  const expiresAt = claims.exp * 1000;
  if (claims.role === 'operator') return { kind: 'operator', operatorId: claims.sub, expiresAt };

  const organisation = await em.findOne(Organisation, { slug: claims.org });
  if (!organisation) throw new AuthenticationError('unknown organisation');
  const organisationId = organisation.id;
  const scoped = { filters: { tenant: { organisationId } } };
  switch (claims.role) {
    case 'service':
      return { kind: 'service', organisationId, clientId: claims.sub, expiresAt };
    case 'staff': {
      const member = await em.findOne(TeamMember, { organisationId, externalId: claims.sub }, scoped);
      if (!member || member.archivedAt) throw new AuthenticationError('unknown team member');
      return { kind: 'staff', organisationId, teamMemberId: member.id, permissions: member.permissions, expiresAt };
    }
    case 'patient': {
      const patient = await em.findOne(Patient, { organisationId, externalId: claims.sub }, scoped);
      if (!patient || patient.archivedAt) throw new AuthenticationError('unknown patient');
      return { kind: 'patient', organisationId, patientId: patient.id, expiresAt };
    }
  }
}
