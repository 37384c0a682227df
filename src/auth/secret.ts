import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config';

/**
 * The HS256 secret: AUTH_JWT_SECRET when set; in development, a random secret kept in
 * `<dataDir>/dev-jwt-secret` so printed tokens survive restarts. Production requires the variable.
 */
/**
 * The secret to sign the demo tokens printed at start-up: only the generated development secret,
 * never a configured AUTH_JWT_SECRET (printed tokens would be valid wherever that one is trusted).
 */
export function demoTokenSecret(config: Config): string | undefined {
  return config.auth.jwtSecret || config.auth.jwksUrl ? undefined : resolveJwtSecret(config);
}

export function resolveJwtSecret(config: Config): string | undefined {
  if (config.auth.jwtSecret) return config.auth.jwtSecret;
  if (config.auth.jwksUrl || config.env === 'production') return undefined;
  const file = path.join(config.dataDir, 'dev-jwt-secret');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  fs.mkdirSync(config.dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  fs.writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}
