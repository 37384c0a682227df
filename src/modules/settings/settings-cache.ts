import type { MessagingSettings } from './messaging-settings.service';

/**
 * Each organisation's messaging settings, kept by this process for a short while (every message
 * to a patient is checked against them). A change drops them here at once and, through the
 * event bus, in every other process; a lost notice is outlived by the TTL.
 */
export class SettingsCache {
  private readonly entries = new Map<string, { settings: MessagingSettings; until: number }>();
  /** Moves on at every invalidation: a read that began before one is not kept (it may be older). */
  private epoch = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** The kept settings are frozen and shared by every request of the organisation: read them, never change them. */
  async get(organisationId: string, load: () => Promise<MessagingSettings>, now = Date.now()): Promise<MessagingSettings> {
    const entry = this.entries.get(organisationId);
    if (entry && entry.until > now) return entry.settings;
    const epoch = this.epoch;
    const settings = await load();
    if (this.ttlMs > 0 && epoch === this.epoch) {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.delete(organisationId);
      this.entries.set(organisationId, { settings: deepFreeze(structuredClone(settings)), until: now + this.ttlMs });
    }
    return settings;
  }

  invalidate(organisationId: string): void {
    this.epoch += 1;
    this.entries.delete(organisationId);
  }

  clear(): void {
    this.epoch += 1;
    this.entries.clear();
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
