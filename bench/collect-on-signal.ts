import v8 from 'node:v8';

/**
 * Preloaded (`--require`) into every server the memory benches measure, with `--expose-gc`: on
 * SIGUSR2 full, compacting garbage collections run, so that memory is read without the garbage
 * of whatever ran before (which depends on when V8 last collected, not on what is kept). One
 * plain collection frees dead objects but leaves the old-space pages they were scattered over
 * committed: after a burst of connections that was 50-80 KiB per socket of resident memory,
 * more or less from run to run. Compacting moves the live objects together and releases those
 * pages. The heap then in use is written to stdout as `collected heap <bytes>`.
 */
process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    v8.setFlagsFromString('--compact-on-every-full-gc');
    gc();
    gc();
    v8.setFlagsFromString('--no-compact-on-every-full-gc');
  }
  process.stdout.write(`collected heap ${process.memoryUsage().heapUsed}\n`);
});
