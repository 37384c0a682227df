import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FileStore } from '../attachments/file-store';
import { detectType } from '../attachments/file-types';
import { TRANSFER_KEY } from './clinic-envelope';

/**
 * Files that go with a handover cross through a transfer area of the file store: the sender
 * copies each into it when it offers (its own files stay its own), the receiver copies them into
 * its own keys when it accepts, and the sender removes the transfer copies once the handover is
 * decided. Between two deployments the transfer key would be a signed download URL.
 */
export async function copyToTransfer(files: FileStore, storageKey: string, bytes: number): Promise<string> {
  const key = `transfer/${randomUUID()}`;
  await files.write(key, opened(files, storageKey), bytes);
  return key;
}

/** A file's bytes to copy: a file that cannot be opened fails the copy (through its pipeline), never the process. */
function opened(files: FileStore, key: string): Readable {
  const source = files.read(key);
  // The store may open it before the copy's pipeline listens; the pipeline still sees the error.
  source.on('error', () => undefined);
  return source;
}

/**
 * Copies a transferred file into the receiving organisation's key; undefined (and nothing kept)
 * unless its content is of the type it was sent as. Only keys of the transfer area are read.
 */
export async function copyFromTransfer(files: FileStore, transferKey: string, storageKey: string, file: { contentType: string; size: number }): Promise<number | undefined> {
  if (!TRANSFER_KEY.test(transferKey)) return undefined;
  const stored = await files.write(storageKey, opened(files, transferKey), file.size);
  if (detectType(stored.head) === file.contentType && stored.bytes > 0) return stored.bytes;
  await files.remove(storageKey);
  return undefined;
}
