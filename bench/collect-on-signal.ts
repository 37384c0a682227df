/**
 * Preloaded (`--require`) into every server the memory bench measures, with `--expose-gc`: on
 * SIGUSR2 a full garbage collection runs, so that resident memory is read without the garbage of
 * whatever ran before (which depends on when V8 last collected, not on what a subscriber keeps).
 */
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
});
