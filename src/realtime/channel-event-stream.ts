import type { EventBus } from './event-bus';

export interface StreamSource<T extends { seq: number }> {
  bus: EventBus;
  channelId: string;
  /** Sequence number after which to start (0: from the beginning). */
  afterSeq: number;
  /** Reads up to `limit` events with a sequence number above `afterSeq`, in order. */
  load(afterSeq: number, limit: number): Promise<T[]>;
  /** Called before each batch of at most 100 events; throws to end the stream (access lost, token expired). */
  authorize(): Promise<void>;
}

const BATCH = 100;

/**
 * The events of one channel from a position on: first what the log already holds, then live.
 * The bus only wakes the reader and the reader always reads the log from its own position,
 * so switching from replay to live can neither skip nor repeat an event, and a lost notice
 * is caught up by the next one.
 */
export function channelEventStream<T extends { seq: number }>(source: StreamSource<T>): AsyncIterableIterator<T> {
  const abort = new AbortController();
  let position = source.afterSeq;
  let behind = true;
  let wake: (() => void) | undefined;
  const stopListening = source.bus.subscribe(source.channelId, (notice) => {
    if (notice.seq > position) {
      behind = true;
      wake?.();
    }
  });
  abort.signal.addEventListener('abort', () => wake?.());

  async function* read(): AsyncGenerator<T> {
    try {
      while (!abort.signal.aborted) {
        if (!behind) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        behind = false;
        let batch: T[];
        do {
          // Checked before every batch, so a long replay notices lost access as soon as live delivery would.
          await source.authorize();
          batch = await source.load(position, BATCH);
          for (const event of batch) {
            if (abort.signal.aborted) return;
            position = event.seq;
            yield event;
          }
        } while (batch.length === BATCH);
      }
    } finally {
      stopListening();
    }
  }

  const generator = read();
  // An async generator paused on an await cannot be returned from until it resumes; aborting
  // first wakes it so that a client's `complete` ends the stream at once.
  return {
    next: () => generator.next(),
    return: (value?: unknown) => {
      abort.abort();
      stopListening();
      return generator.return(value as never);
    },
    throw: (error?: unknown) => {
      abort.abort();
      stopListening();
      return generator.throw(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
