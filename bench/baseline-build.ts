import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');

/**
 * Builds an earlier commit of this repository beside this one (a detached git worktree with the
 * dependencies of its own lockfile) so a bench can run it against the current build in one run.
 */
export async function buildCommit(commit: string): Promise<{ main: string }> {
  const dir = path.join(os.tmpdir(), `care-messaging-${commit.replace(/\W/g, '')}`);
  const main = path.join(dir, 'dist', 'src', 'main.js');
  if (await fs.stat(main).then(() => true, () => false)) return { main };
  await fs.rm(dir, { recursive: true, force: true });
  await run('git', ['worktree', 'prune'], { cwd: ROOT });
  await run('git', ['worktree', 'add', '--detach', '--force', dir, commit], { cwd: ROOT });
  // Its own dependencies (install scripts are not needed: it is given a database).
  await run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  await run(process.execPath, [path.join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: dir });
  return { main };
}

/**
 * PostGraphile 4 (the page-read peer) installed from its own lockfile (bench/postgraphile) beside
 * this checkout: it needs graphql 15, and sharing the application's node_modules (graphql 16)
 * left it with two graphql instances, answering every query with an error. Returns its folder.
 */
export async function installPostGraphile(): Promise<string> {
  const source = path.join(ROOT, 'bench', 'postgraphile');
  const lock = await fs.readFile(path.join(source, 'package-lock.json'));
  const dir = path.join(os.tmpdir(), `care-messaging-postgraphile-${createHash('sha256').update(lock).digest('hex').slice(0, 12)}`);
  if (await fs.stat(path.join(dir, 'node_modules', 'postgraphile')).then(() => true, () => false)) return dir;
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) await fs.copyFile(path.join(source, file), path.join(dir, file));
  await run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  return dir;
}
