import type { Actor } from './actor';

/** An actor as the directory said it was, without the token's own expiry. */
export type CachedIdentity = Exclude<Actor, { kind: 'operator' }> extends infer A ? (A extends Actor ? Omit<A, 'expiresAt'> : never) : never;

/** Whose cached identity a change concerns: a person, or everyone of an organisation. */
export interface IdentityChange {
  organisationId: string;
  teamMemberId?: string;
  patientId?: string;
}

/**
 * Verified identities, (organisation slug, role, subject) -> actor, kept for a short while so that
 * a request does not look the organisation and the person up again. An entry is dropped when the
 * person is archived or their permissions change (the event bus carries that to every process),
 * when the bus may have missed notices (resync), and at the latest after `ttlMs`.
 */
export class IdentityCache {
  private readonly entries = new Map<string, { identity: CachedIdentity; until: number }>();
  /** Cache keys by person (`t:<id>` / `p:<id>`) and by organisation, for invalidation. */
  private readonly byPerson = new Map<string, Set<string>>();
  /**
   * Moves on at every invalidation: a lookup that began before one may have read what it
   * invalidated, so its answer is not cached (see `set`).
   */
  epoch = 0;

  constructor(
    readonly ttlMs: number,
    private readonly maxEntries = 100_000,
  ) {}

  static key(org: string, role: string, sub: string): string {
    return `${org}\u0000${role}\u0000${sub}`;
  }

  get(key: string, now = Date.now()): CachedIdentity | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until > now) return entry.identity;
    this.delete(key);
    return undefined;
  }

  /** Caches a lookup's answer, unless an invalidation came since the lookup began (at `lookupEpoch`). */
  set(key: string, identity: CachedIdentity, lookupEpoch: number, now = Date.now()): void {
    if (this.ttlMs <= 0 || lookupEpoch !== this.epoch) return;
    if (this.entries.size >= this.maxEntries) this.delete(this.entries.keys().next().value!);
    this.delete(key);
    this.entries.set(key, { identity, until: now + this.ttlMs });
    for (const index of indexesOf(identity)) {
      let keys = this.byPerson.get(index);
      if (!keys) this.byPerson.set(index, (keys = new Set()));
      keys.add(key);
    }
  }

  /** Drops what a change concerns: the person, or (with no person named) the whole organisation. */
  invalidate(change: IdentityChange): void {
    this.epoch += 1;
    const index = change.teamMemberId ? `t:${change.teamMemberId}` : change.patientId ? `p:${change.patientId}` : `o:${change.organisationId}`;
    for (const key of [...(this.byPerson.get(index) ?? [])]) this.delete(key);
  }

  clear(): void {
    this.epoch += 1;
    this.entries.clear();
    this.byPerson.clear();
  }

  private delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    for (const index of indexesOf(entry.identity)) {
      const keys = this.byPerson.get(index);
      keys?.delete(key);
      if (keys?.size === 0) this.byPerson.delete(index);
    }
  }
}

function indexesOf(identity: CachedIdentity): string[] {
  const person = identity.kind === 'staff' ? [`t:${identity.teamMemberId}`] : identity.kind === 'patient' ? [`p:${identity.patientId}`] : [];
  return [...person, `o:${identity.organisationId}`];
}
