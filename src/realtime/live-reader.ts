import type { OrgFeed } from './org-feed';
import { stoppable } from './iterators';
import { compareKeys, type EventKey, type LoadedEvent } from './event-batch';

/** `end`: the stream ends before this event (with `endError`), `deliver-then-end`: after it. */
export type Decision = 'deliver' | 'skip' | 'deliver-then-end' | 'end';

/** What differs between a channel stream and an inbox stream. */
export interface LiveSource<Cursor> {
  feed: OrgFeed;
  start: Cursor;
  /** Events after `cursor` in the database (this reader's own query). */
  fromDatabase(cursor: Cursor, limit: number): Promise<LoadedEvent[]>;
  /** Events after `cursor` from the shared feed, or undefined when it cannot answer. */
  fromFeed(cursor: Cursor, covered: EventKey): { events: LoadedEvent[]; head: EventKey } | undefined;
  advance(cursor: Cursor, event: LoadedEvent): Cursor;
  decide(event: LoadedEvent): Decision;
  /** Re-checks the caller's access; throws to end the stream. */
  authorize(): Promise<void>;
  /** Called before a batch is delivered: hand its rows to the field resolvers' loaders. */
  prepare(events: LoadedEvent[]): void;
  /** The error that ends the stream after a 'deliver-then-end' event. */
  endError(): Error;
  revalidateMs: number;
  /** Aborted when the connection is closing: the stream ends without reading further. */
  connectionSignal?: AbortSignal;
  /** Runs once, however the stream ends. */
  release(): void;
  /** An event from the shared feed (not a replay) is about to be sent. */
  deliveredLive?(event: LoadedEvent): void;
}

const BATCH = 100;
const BEFORE_EVERYTHING: EventKey = { position: -1, channelId: '', seq: -1 };

/**
 * Reads a stream of events from a position on: from the database until it has caught up, then
 * from the organisation's shared feed, falling back to the database whenever the feed's buffer
 * no longer reaches back to the reader (a slow reader). The reader's position advances only by
 * what it has delivered or decided to skip, so switching sources cannot skip or repeat an event.
 */
export function liveReader<Cursor>(source: LiveSource<Cursor>): AsyncIterableIterator<LoadedEvent> {
  const abort = new AbortController();
  const onConnectionClosing = () => abort.abort();
  source.connectionSignal?.addEventListener('abort', onConnectionClosing);
  if (source.connectionSignal?.aborted) abort.abort();
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    source.connectionSignal?.removeEventListener('abort', onConnectionClosing);
    source.release();
  };

  async function* read(): AsyncGenerator<LoadedEvent> {
    const { feed } = source;
    let cursor = source.start;
    // Everything up to `covered` in the organisation's log has been seen (or judged) by this reader.
    let covered = BEFORE_EVERYTHING;
    let fromFeed = false;
    // Zero: access is checked before the first batch, whatever happened since the subscription began.
    let checkedAt = 0;
    let generation = feed.generation;
    try {
      while (!abort.signal.aborted && !feed.closed) {
        let events: LoadedEvent[];
        if (fromFeed) {
          const taken = source.fromFeed(cursor, covered);
          if (!taken) {
            fromFeed = false;
            continue;
          }
          events = taken.events;
          if (compareKeys(taken.head, covered) > 0) covered = taken.head;
          if (events.length === 0) {
            if (generation !== feed.generation) {
              generation = feed.generation;
              await source.authorize();
              checkedAt = Date.now();
              // Events may have arrived during the await: look again before sleeping.
              continue;
            }
            await feed.waitForMore(abort.signal);
            continue;
          }
        } else {
          const head = feed.head;
          events = await source.fromDatabase(cursor, BATCH);
          if (events.length < BATCH) {
            fromFeed = true;
            const last = events.length ? events[events.length - 1].key : undefined;
            covered = last && compareKeys(last, head) > 0 ? last : head;
          }
          if (events.length === 0) continue;
        }
        if (generation !== feed.generation || Date.now() - checkedAt >= source.revalidateMs) {
          generation = feed.generation;
          await source.authorize();
          checkedAt = Date.now();
        }
        source.prepare(events);
        for (const event of events) {
          if (abort.signal.aborted) return;
          const decision = source.decide(event);
          if (decision === 'end') throw source.endError();
          cursor = source.advance(cursor, event);
          if (decision === 'skip') continue;
          if (fromFeed) source.deliveredLive?.(event);
          yield event;
          if (decision === 'deliver-then-end') throw source.endError();
        }
      }
    } finally {
      release();
    }
  }

  return stoppable(read(), () => {
    abort.abort();
    release();
  });
}
