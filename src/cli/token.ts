import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { resolveJwtSecret } from '../auth/secret';
import { signToken, TOKEN_ROLES, type TokenRole } from '../auth/tokens';

const usage = 'usage: npm run token -- --role staff|patient|service|operator --sub <externalId> [--org <slug>] [--ttl <seconds>]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { org: { type: 'string' }, role: { type: 'string' }, sub: { type: 'string' }, ttl: { type: 'string', default: '43200' } },
  });
  const role = values.role as TokenRole | undefined;
  if (!role || !TOKEN_ROLES.includes(role) || !values.sub || (role !== 'operator' && !values.org)) {
    process.stderr.write(`${usage}\n`);
    process.exit(2);
  }
  const ttlSeconds = Number(values.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    process.stderr.write(`--ttl must be a positive number of seconds\n${usage}\n`);
    process.exit(2);
  }
  const secret = resolveJwtSecret(loadConfig());
  if (!secret) {
    process.stderr.write('No AUTH_JWT_SECRET: tokens for a JWKS issuer come from that issuer.\n');
    process.exit(2);
  }
  process.stdout.write(`${await signToken(secret, { role, sub: values.sub, org: role === 'operator' ? undefined : values.org, ttlSeconds })}\n`);
}

void main();
