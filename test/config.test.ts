import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { ConfigError, loadConfig } from '../src/config';
import { demoTokenSecret } from '../src/auth/secret';

const SECRET = 'a-configured-secret-that-is-long-enough-0123456789';
const made: string[] = [];
const dataDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'care-config-'));
  made.push(dir);
  return dir;
};
afterAll(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

describe('configuration rules (allowed beside denied)', () => {
  it('production needs a token key', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(loadConfig({ NODE_ENV: 'production', AUTH_JWT_SECRET: SECRET }).sandbox).toBe(false);
  });

  it('JWKS verification needs its own CURSOR_SECRET (the JWKS URL is public)', () => {
    expect(() => loadConfig({ AUTH_JWKS_URL: 'https://idp.example/jwks.json' })).toThrow(/CURSOR_SECRET/);
    expect(loadConfig({ AUTH_JWKS_URL: 'https://idp.example/jwks.json', CURSOR_SECRET: SECRET }).cursorSecret).toBe(SECRET);
  });

  it('production with JWKS pins issuer and audience', () => {
    const base = { NODE_ENV: 'production', AUTH_JWKS_URL: 'https://idp.example/jwks.json', CURSOR_SECRET: SECRET };
    expect(() => loadConfig(base)).toThrow(/AUTH_ISSUER/);
    expect(loadConfig({ ...base, AUTH_ISSUER: 'https://idp.example', AUTH_AUDIENCE: 'care-messaging' }).auth.audience).toBe('care-messaging');
  });

  it('bad values are named', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ AUTH_JWT_SECRET: 'short' })).toThrow(/AUTH_JWT_SECRET/);
  });
});

describe('demo tokens are signed only with the generated development secret', () => {
  it('allowed: no configured secret, a development secret is generated and kept', () => {
    const config = loadConfig({ DATA_DIR: dataDir() });
    const secret = demoTokenSecret(config);
    expect(secret).toHaveLength(43);
    expect(demoTokenSecret(config)).toBe(secret);
  });

  it('denied: a configured AUTH_JWT_SECRET or JWKS never signs printed tokens', () => {
    expect(demoTokenSecret(loadConfig({ DATA_DIR: dataDir(), AUTH_JWT_SECRET: SECRET }))).toBeUndefined();
    expect(demoTokenSecret(loadConfig({ DATA_DIR: dataDir(), AUTH_JWKS_URL: 'https://idp.example/jwks.json', CURSOR_SECRET: SECRET }))).toBeUndefined();
  });
});
