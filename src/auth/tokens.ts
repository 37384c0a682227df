import { SignJWT, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';

export const TOKEN_ROLES = ['staff', 'patient', 'service', 'operator'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

const claimsSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('operator'), sub: z.string().min(1), exp: z.number(), iat: z.number() }),
  z.object({ role: z.enum(['staff', 'patient', 'service']), org: z.string().min(1), sub: z.string().min(1), exp: z.number(), iat: z.number() }),
]);

export type TokenClaims = z.infer<typeof claimsSchema>;

export class InvalidTokenError extends Error {}

export interface TokenVerifier {
  verify(token: string): Promise<TokenClaims>;
}

export interface VerifierOptions {
  secret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** The longest a token may live (from `iat` to `exp`) and the oldest it may be, in seconds. */
  maxTokenAgeSeconds: number;
  /** How far clocks may disagree: `iat` and `nbf` this far in the future still pass. */
  clockToleranceSeconds: number;
}

export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  const key: Uint8Array | JWTVerifyGetKey | undefined = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl))
    : options.secret
      ? new TextEncoder().encode(options.secret)
      : undefined;
  if (!key) throw new Error('No token verification key: set AUTH_JWT_SECRET or AUTH_JWKS_URL');
  const algorithms = options.jwksUrl ? ['RS256', 'ES256', 'EdDSA'] : ['HS256'];
  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        // jose refuses an `iat` or `nbf` in the future (beyond the tolerance) and a token older than the maximum age.
        const verifyOptions = {
          algorithms,
          issuer: options.issuer,
          audience: options.audience,
          requiredClaims: ['exp', 'iat'],
          maxTokenAge: options.maxTokenAgeSeconds,
          clockTolerance: options.clockToleranceSeconds,
        };
        payload =
          typeof key === 'function'
            ? (await jwtVerify(token, key, verifyOptions)).payload
            : (await jwtVerify(token, key, verifyOptions)).payload;
      } catch (error) {
        if (error instanceof joseErrors.JOSEError) throw new InvalidTokenError(error.code);
        throw error;
      }
      const claims = claimsSchema.safeParse(payload);
      if (!claims.success) throw new InvalidTokenError('ERR_CLAIMS_INVALID');
      // Expiry is this server's clock's to judge, to the second (the tolerance is for clocks that run ahead of ours).
      if (claims.data.exp * 1000 <= Date.now()) throw new InvalidTokenError('ERR_JWT_EXPIRED');
      // A token that would outlive the maximum age (`exp: 1e300`) is refused, not trusted until then.
      if (claims.data.exp - claims.data.iat > options.maxTokenAgeSeconds + options.clockToleranceSeconds) throw new InvalidTokenError('ERR_LIFETIME_TOO_LONG');
      return claims.data;
    },
  };
}

export interface TokenRequest {
  role: TokenRole;
  sub: string;
  org?: string;
  /** Lifetime in seconds. */
  ttlSeconds?: number;
}

/** Signs an HS256 token (development, tests and the `token` script). */
export async function signToken(secret: string, request: TokenRequest): Promise<string> {
  const claims: Record<string, string> = { role: request.role };
  if (request.org) claims.org = request.org;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(request.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (request.ttlSeconds ?? 12 * 3600))
    .sign(new TextEncoder().encode(secret));
}
