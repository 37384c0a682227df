import fs from 'node:fs/promises';

export default async function globalTeardown(): Promise<void> {
  const embedded = (globalThis as Record<string, unknown>).__embeddedPostgres as { stop(): Promise<void>; dataDir: string } | undefined;
  if (!embedded) return;
  await embedded.stop();
  await fs.rm(embedded.dataDir, { recursive: true, force: true });
}
