import { z } from 'zod';

/**
 * What is limited, per person (a team member, patient or service client) and per organisation,
 * or per network address: `points` within `seconds`, counted in a store every server process
 * shares. Defaults are generous for a real clinic: a person typing messages by hand, or a busy
 * front desk, never meets them; a script hammering one operation does.
 */
export const LIMITED_ACTIONS = [
  'messageSend',
  'conversationStart',
  'uploadTicket',
  'uploadKilobytes',
  'reaction',
  'messageEdit',
  'typing',
  'search',
  'socketConnect',
  'refusedTokenRecord',
] as const;
export type LimitedAction = (typeof LIMITED_ACTIONS)[number];

export type LimitScope = 'person' | 'organisation' | 'address';

export interface LimitWindow {
  points: number;
  seconds: number;
}

export type RateLimitTable = Record<LimitedAction, Partial<Record<LimitScope, LimitWindow>>>;

const perMinute = (points: number): LimitWindow => ({ points, seconds: 60 });
const perHour = (points: number): LimitWindow => ({ points, seconds: 3600 });
const perDay = (points: number): LimitWindow => ({ points, seconds: 86_400 });

export const DEFAULT_RATE_LIMITS: RateLimitTable = {
  messageSend: { person: perMinute(60), organisation: perMinute(6_000) },
  conversationStart: { person: perHour(20), organisation: perHour(2_000) },
  uploadTicket: { person: perHour(60), organisation: perHour(6_000) },
  // Declared sizes, in KiB: 500 MB a person and 20 GB an organisation a day.
  uploadKilobytes: { person: perDay(512_000), organisation: perDay(20_971_520) },
  reaction: { person: perMinute(120) },
  messageEdit: { person: perMinute(30) },
  typing: { person: perMinute(120) },
  search: { person: perMinute(30), organisation: perMinute(3_000) },
  socketConnect: { person: perMinute(30), address: perMinute(120) },
  // Refused tokens put on the audit log of the organisation they name, per address (beyond: only logged).
  refusedTokenRecord: { address: perMinute(60) },
};

/** Upload tickets a person may hold that have not been used yet. */
export const DEFAULT_MAX_PENDING_UPLOADS = 20;

const windowSchema = z
  .string()
  .regex(/^\d+\/\d+$/, 'a limit is "points/seconds", e.g. "60/60"')
  .transform((text) => {
    const [points, seconds] = text.split('/').map(Number);
    return { points, seconds };
  })
  .refine((window) => window.points > 0 && window.seconds > 0, 'points and seconds must be positive');

const overridesSchema = z.record(z.enum(LIMITED_ACTIONS), z.record(z.enum(['person', 'organisation', 'address']), windowSchema));

/**
 * `RATE_LIMITS`: absent for the defaults; `off` for none at all (load tests only); or JSON
 * overriding some of them, e.g. `{"messageSend":{"person":"120/60"}}`.
 */
export function parseRateLimits(text: string | undefined): RateLimitTable | undefined {
  if (text === undefined || text.trim() === '') return DEFAULT_RATE_LIMITS;
  if (text.trim() === 'off') return undefined;
  const overrides = overridesSchema.parse(JSON.parse(text));
  const table = structuredClone(DEFAULT_RATE_LIMITS);
  for (const [action, scopes] of Object.entries(overrides) as Array<[LimitedAction, Partial<Record<LimitScope, LimitWindow>>]>) {
    table[action] = { ...table[action], ...scopes };
  }
  return table;
}
