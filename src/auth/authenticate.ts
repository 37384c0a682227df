import type { MikroORM } from '@mikro-orm/postgresql';
import type { Actor } from './actor';
import { InvalidTokenError, type TokenClaims, type TokenVerifier } from './tokens';

const MAX_VERIFIED = 100_000;
import { IdentityCache, type CachedIdentity } from './identity-cache';
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
 * Turns a token into an Actor: the token must verify, the organisation must exist, and a staff or
 * patient token must name a person of that organisation who is not archived. What the directory
 * said is cached briefly (IdentityCache), and so is a token's verified signature and claims (by
 * its exact text, never past its expiry).
 */
export class Authenticator {
  constructor(
    private readonly orm: MikroORM,
    private readonly verifier: TokenVerifier,
    readonly cache: IdentityCache,
  ) {}

  /** Tokens whose signature and claims were checked, by their exact text, until a short while or their expiry. */
  private readonly verified = new Map<string, { claims: TokenClaims; until: number }>();

  async authenticate(token: string): Promise<Actor> {
    const claims = await this.verify(token);
    const expiresAt = claims.exp * 1000;
    if (claims.role === 'operator') return { kind: 'operator', operatorId: claims.sub, expiresAt };
    const key = IdentityCache.key(claims.org, claims.role, claims.sub);
    let identity = this.cache.get(key);
    if (!identity) {
      const epoch = this.cache.epoch;
      identity = await this.lookUp(claims.org, claims.role, claims.sub);
      this.cache.set(key, identity, epoch);
    }
    return { ...identity, expiresAt } as Actor;
  }

  private async verify(token: string): Promise<TokenClaims> {
    const now = Date.now();
    const known = this.verified.get(token);
    if (known && known.until > now) return known.claims;
    if (known) this.verified.delete(token);
    let claims: TokenClaims;
    try {
      claims = await this.verifier.verify(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new AuthenticationError(error.message);
      throw error;
    }
    const until = Math.min(claims.exp * 1000, now + this.cache.ttlMs);
    if (until > now) {
      if (this.verified.size >= MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, { claims, until });
    }
    return claims;
  }

  private async lookUp(slug: string, role: 'staff' | 'patient' | 'service', sub: string): Promise<CachedIdentity> {
    const em = this.orm.em.fork();
    const organisation = await em.findOne(Organisation, { slug });
    if (!organisation) throw new AuthenticationError('unknown organisation');
    const organisationId = organisation.id;
    const scoped = { filters: { tenant: { organisationId } } };
    switch (role) {
      case 'service':
        return { kind: 'service', organisationId, clientId: sub };
      case 'staff': {
        const member = await em.findOne(TeamMember, { organisationId, externalId: sub }, scoped);
        if (!member || member.archivedAt) throw new AuthenticationError('unknown team member');
        return { kind: 'staff', organisationId, teamMemberId: member.id, permissions: member.permissions, roles: member.roles };
      }
      case 'patient': {
        const patient = await em.findOne(Patient, { organisationId, externalId: sub }, scoped);
        if (!patient || patient.archivedAt) throw new AuthenticationError('unknown patient');
        return { kind: 'patient', organisationId, patientId: patient.id };
      }
    }
  }
}
