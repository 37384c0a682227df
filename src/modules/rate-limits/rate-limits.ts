import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import type { Knex } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { RateLimitedError } from '../../errors';
import type { Actor } from '../../auth/actor';
import { personKey } from '../../policy/events';
import { LIMITED_ACTIONS, type LimitScope, type LimitedAction, type RateLimitTable } from './rate-limit-config';

/** Where counters live: memory (one process), PostgreSQL (the `rate_limit` table) or Redis, shared by every process. */
export type RateLimitStore = { kind: 'memory' } | { kind: 'postgres'; knex: Knex } | { kind: 'redis'; client: Redis };

const WORDS: Record<LimitedAction, string> = {
  messageSend: 'messages sent',
  conversationStart: 'conversations started',
  uploadTicket: 'uploads started',
  uploadKilobytes: 'bytes uploaded',
  reaction: 'reactions',
  messageEdit: 'edits and deletes',
  typing: 'typing notices',
  search: 'searches',
  socketConnect: 'connections opened',
  refusedTokenRecord: 'refused tokens recorded',
};

const SWEEP_MS = 10 * 60_000;

/** Whose counter: a person (or service client), their organisation, or a network address. */
export type LimitSubject = { scope: LimitScope; id: string };

/** A service client's own counter key (its client id is unique only within its organisation). */
export const serviceKey = (organisationId: string, clientId: string) => `s:${organisationId}:${clientId}`;

/** The person and organisation counters an actor spends from. */
export function subjectsOf(actor: Actor): LimitSubject[] {
  switch (actor.kind) {
    case 'staff':
      return [{ scope: 'person', id: personKey(actor) }, { scope: 'organisation', id: actor.organisationId }];
    case 'patient':
      return [{ scope: 'person', id: personKey(actor) }, { scope: 'organisation', id: actor.organisationId }];
    case 'service':
      return [{ scope: 'person', id: serviceKey(actor.organisationId, actor.clientId) }, { scope: 'organisation', id: actor.organisationId }];
    case 'operator':
      return [{ scope: 'person', id: `o:${actor.operatorId}` }];
  }
}

/**
 * The abuse limits (rate-limiter-flexible): each action's counters per person, organisation and
 * address, in the configured store; if the store fails, counting goes on in this process's memory
 * instead of letting everything through or refusing everything.
 */
export class RateLimits {
  private readonly limiters = new Map<string, RateLimiterAbstract>();
  private readonly sweep?: NodeJS.Timeout;

  constructor(
    private readonly table: RateLimitTable | undefined,
    private readonly store: RateLimitStore,
    private readonly logger: Logger,
    /** Told of each refusal (metrics). */
    private readonly onRefused: (action: LimitedAction) => void = () => undefined,
  ) {
    if (!table) return;
    if (store.kind === 'postgres') {
      // Expired counters are dead rows: cleared now and then, by whichever process gets there.
      this.sweep = setInterval(() => {
        store.knex.raw('delete from rate_limit where expire < ?', [Date.now()]).catch((error: unknown) => logger.warn({ err: error }, 'rate limit sweep failed'));
      }, SWEEP_MS);
      this.sweep.unref();
    }
    for (const action of LIMITED_ACTIONS) {
      for (const [scope, window] of Object.entries(table[action]) as Array<[LimitScope, { points: number; seconds: number }]>) {
        const options = { keyPrefix: `${action}:${scope}`, points: window.points, duration: window.seconds };
        const insurance = new RateLimiterMemory(options);
        const limiter =
          store.kind === 'postgres'
            ? new RateLimiterPostgres({ ...options, storeClient: store.knex, storeType: 'knex', tableName: 'rate_limit', tableCreated: true, clearExpiredByTimeout: false, insuranceLimiter: insurance })
            : store.kind === 'redis'
              ? new RateLimiterRedis({ ...options, storeClient: store.client, insuranceLimiter: insurance })
              : insurance;
        this.limiters.set(`${action}:${scope}`, limiter);
      }
    }
  }

  /** Stops the sweep; a Redis client of its own is closed. */
  async close(): Promise<void> {
    if (this.sweep) clearInterval(this.sweep);
    if (this.store.kind === 'redis') await this.store.client.quit().catch(() => undefined);
  }

  get enabled(): boolean {
    return this.table !== undefined;
  }

  /**
   * Spends `points` of `action` from each subject's counter; RATE_LIMITED (with when to retry)
   * once any of them is spent. A refused call still counts: retrying at once does not help.
   */
  async consume(action: LimitedAction, subjects: readonly LimitSubject[], points = 1): Promise<void> {
    for (const subject of subjects) {
      const limiter = this.limiters.get(`${action}:${subject.scope}`);
      if (!limiter) continue;
      try {
        await limiter.consume(subject.id, points);
      } catch (refusal) {
        if (!(refusal instanceof RateLimiterRes)) {
          this.logger.warn({ err: refusal, action }, 'rate limit store failed');
          continue;
        }
        const retryAfterSeconds = Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
        this.onRefused(action);
        const whose = subject.scope === 'person' ? 'you have' : subject.scope === 'organisation' ? 'your organisation has' : 'this address has';
        throw new RateLimitedError(`Too many ${WORDS[action]}: ${whose} reached the limit; try again in ${retryAfterSeconds} s.`, retryAfterSeconds);
      }
    }
  }

  /** Seconds until a subject's counter of `action` has room again, or undefined if it has room now (nothing is spent). */
  async blocked(action: LimitedAction, subject: LimitSubject): Promise<number | undefined> {
    const limiter = this.limiters.get(`${action}:${subject.scope}`);
    if (!limiter) return undefined;
    try {
      const state = await limiter.get(subject.id);
      const window = this.table![action][subject.scope]!;
      return state && state.consumedPoints >= window.points ? Math.max(1, Math.ceil(state.msBeforeNext / 1000)) : undefined;
    } catch (error) {
      this.logger.warn({ err: error, action }, 'rate limit store failed');
      return undefined;
    }
  }

  /** `consume` for an actor's own counters (person and organisation). */
  consumeFor(action: LimitedAction, actor: Actor, points = 1): Promise<void> {
    return this.consume(action, subjectsOf(actor), points);
  }
}
