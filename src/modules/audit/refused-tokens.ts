import { decodeJwt } from 'jose';
import type { AppDeps } from '../../graphql/context';
import { RateLimitedError } from '../../errors';
import { recordedId } from './audit-recorder';

/**
 * Puts a refused token on the audit log of the organisation it names (its claims unverified: the
 * actor is recorded as `unverified` with the subject it claimed, the reason as the error code), at
 * most so many per address a minute; garbage and tokens naming no known organisation are only logged.
 */
export async function recordRefusedToken(deps: AppDeps, token: string, reason: string, requestId: string, address: string): Promise<void> {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token);
  } catch {
    return;
  }
  if (typeof claims.org !== 'string' || claims.org.length > 100) return;
  try {
    await deps.rateLimits.consume('refusedTokenRecord', [{ scope: 'address', id: address }]);
  } catch (error) {
    if (error instanceof RateLimitedError) return;
    throw error;
  }
  const [organisation] = await deps.orm.em.fork().execute<Array<{ id: string }>>('select id from organisation where slug = ?', [claims.org]);
  if (!organisation) return;
  await deps.auditLog.record({
    organisationId: organisation.id,
    actorKind: 'unverified',
    actorId: recordedId(typeof claims.sub === 'string' ? claims.sub : ''),
    requestId,
    action: 'Request.tokenRefused',
    targetType: null,
    targetId: null,
    outcome: 'DENIED',
    errorCode: recordedId(reason).slice(0, 64),
    occurredAt: new Date(),
  });
}
