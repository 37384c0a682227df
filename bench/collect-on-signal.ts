/**
 * Preloaded (`--require`) into every server the memory benches measure, with `--expose-gc`: on
 * SIGUSR2 a full garbage collection runs, so that memory is read without the garbage of whatever
 * ran before (which depends on when V8 last collected, not on what is kept), and the heap then in
 * use is written to stdout as `collected heap <bytes>`.
 */
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  process.stdout.write(`collected heap ${process.memoryUsage().heapUsed}\n`);
});
