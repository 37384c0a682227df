/**
 * Wraps an async generator so that `return()` from a client takes effect at once: a generator
 * paused on an await cannot be returned from until it resumes, so `stop` first wakes it (and
 * releases whatever it holds), then the generator is returned.
 */
export function stoppable<T>(generator: AsyncGenerator<T>, stop: () => void): AsyncIterableIterator<T> {
  const iterator: AsyncIterableIterator<T> = {
    next: () => generator.next(),
    return: (value?: unknown) => {
      stop();
      return generator.return(value as never);
    },
    throw: (error?: unknown) => {
      stop();
      return generator.throw(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return iterator;
}

/** The same stream with each value mapped; ending the result ends the source. */
export function mapStream<T, U>(source: AsyncIterableIterator<T>, map: (value: T) => U): AsyncIterableIterator<U> {
  return stoppable(
    (async function* () {
      for await (const value of source) yield map(value);
    })(),
    () => void source.return?.(),
  );
}
