import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');

/**
 * Builds an earlier commit of this repository beside this one (a detached git worktree sharing
 * this checkout's node_modules) so a bench can run it against the current build in one run.
 */
export async function buildCommit(commit: string): Promise<{ main: string }> {
  const dir = path.join(os.tmpdir(), `care-messaging-${commit.replace(/\W/g, '')}`);
  const main = path.join(dir, 'dist', 'src', 'main.js');
  if (await fs.stat(main).then(() => true, () => false)) return { main };
  await fs.rm(dir, { recursive: true, force: true });
  await run('git', ['worktree', 'prune'], { cwd: ROOT });
  await run('git', ['worktree', 'add', '--detach', '--force', dir, commit], { cwd: ROOT });
  await fs.symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  await run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: dir });
  return { main };
}
