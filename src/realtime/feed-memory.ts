/** What the budget asks of a feed it may trim. */
export interface TrimmableFeed {
  /** Bytes its buffer holds now (estimated). */
  readonly bufferedBytes: number;
  /** Drops its oldest events until at least `bytes` are freed or the buffer is empty; returns how many events it dropped. */
  dropOldest(bytes: number): number;
}

/** What a process's live feeds hold and what the budget has taken from them. */
export interface FeedMemoryStats {
  feeds: number;
  bufferedBytes: number;
  budgetBytes: number;
  evictedEvents: number;
  evictions: number;
}

/**
 * One memory budget for every organisation's live feed in this process. Feeds report what they
 * add; when the total goes over the budget, the least recently active feeds give up their
 * oldest events first (their readers that are further behind read the database, as they
 * already can). The newest events of the busiest organisations are what stays.
 */
export class FeedMemory {
  /** Feeds by recency of their last append: the first is the one idle the longest. */
  private readonly feeds = new Set<TrimmableFeed>();
  private total = 0;
  private evictedEvents = 0;
  private evictions = 0;

  constructor(readonly budgetBytes: number) {}

  /** A feed appended events of `bytes`: it becomes the most recently active. */
  added(feed: TrimmableFeed, bytes: number): void {
    this.feeds.delete(feed);
    this.feeds.add(feed);
    this.total += bytes;
    if (this.total > this.budgetBytes) this.trim();
  }

  /** A feed let go of `bytes` on its own (its count cap, or it closed). */
  released(bytes: number): void {
    this.total -= bytes;
  }

  /** A feed closed: whatever it still held is no longer counted. */
  forget(feed: TrimmableFeed): void {
    if (!this.feeds.delete(feed)) return;
    this.total -= feed.bufferedBytes;
  }

  stats(): FeedMemoryStats {
    return { feeds: this.feeds.size, bufferedBytes: this.total, budgetBytes: this.budgetBytes, evictedEvents: this.evictedEvents, evictions: this.evictions };
  }

  /** Down to 90% of the budget, so that a busy process does not trim on every append. */
  private trim(): void {
    const target = this.budgetBytes * 0.9;
    this.evictions += 1;
    for (const feed of this.feeds) {
      if (this.total <= target) return;
      const before = feed.bufferedBytes;
      this.evictedEvents += feed.dropOldest(this.total - target);
      this.total -= before - feed.bufferedBytes;
    }
  }
}

/**
 * Roughly what a value costs on V8's heap (64-bit, pointer compression off): object and array
 * headers, 8 bytes a slot, strings by length, Dates. Shared objects are counted once per call
 * through `seen`. An estimate for the budget, not an exact figure; the bench measures the truth.
 */
export function estimateBytes(value: unknown, seen: Set<object> = new Set()): number {
  if (typeof value === 'string') return 16 + ((value.length + 7) & ~7);
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) < 2 ** 30 ? 0 : 16;
  if (value === null || typeof value !== 'object') return 0;
  if (seen.has(value)) return 0;
  seen.add(value);
  if (value instanceof Date) return 32;
  if (Array.isArray(value)) {
    let bytes = 32 + 8 * value.length;
    for (const item of value) bytes += estimateBytes(item, seen);
    return bytes;
  }
  if (value instanceof Set || value instanceof Map) {
    let bytes = 64;
    for (const item of value.values()) bytes += 24 + estimateBytes(item, seen);
    return bytes;
  }
  let bytes = 24;
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    bytes += 8 + estimateBytes((value as Record<string, unknown>)[key], seen);
  }
  return bytes;
}
