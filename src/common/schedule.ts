/**
 * Runs a housekeeping job once shortly after start and then every `everyMs`, without keeping the
 * process alive; returns the function that stops it.
 */
export function scheduleRepeating(run: () => void, everyMs = 3_600_000, firstAfterMs = 60_000): () => void {
  const first = setTimeout(run, firstAfterMs);
  const every = setInterval(run, everyMs);
  first.unref();
  every.unref();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}
