import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SNIFF_BYTES } from './file-types';

/** Thrown while storing when the bytes go over the limit; nothing is kept. */
export class FileTooLargeError extends Error {}

export interface StoredFile {
  bytes: number;
  /** The first bytes, for type detection. */
  head: Buffer;
}

/** Where attachment bytes live. Keys are `organisation/attachment` ids (no user text). */
export interface FileStore {
  /** Stores a stream under `key`, refusing more than `maxBytes`; the file appears only when complete. */
  write(key: string, source: Readable, maxBytes: number): Promise<StoredFile>;
  read(key: string): Readable;
  remove(key: string): Promise<void>;
}

/** `organisation/attachment`, or `transfer/<id>` for files on their way between clinics (handovers). */
const KEY = /^([0-9a-f-]{36}|transfer)\/[0-9a-f-]{36}$/;

/** The default store: files under a local folder (`FILES_DIR`, default `./.data/files`). */
export class LocalFileStore implements FileStore {
  constructor(private readonly dir: string) {}

  private pathOf(key: string): string {
    if (!KEY.test(key)) throw new Error('invalid file key');
    return path.join(this.dir, key);
  }

  async write(key: string, source: Readable, maxBytes: number): Promise<StoredFile> {
    const target = this.pathOf(key);
    const partial = `${target}.partial`;
    await mkdir(path.dirname(target), { recursive: true });
    let bytes = 0;
    const chunks: Buffer[] = [];
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        if (bytes > maxBytes) return done(new FileTooLargeError('file too large'));
        if (Buffer.concat(chunks).length < SNIFF_BYTES) chunks.push(chunk.subarray(0, SNIFF_BYTES));
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(partial, { flags: 'wx', mode: 0o600 }));
      await rename(partial, target);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    return { bytes, head: Buffer.concat(chunks).subarray(0, SNIFF_BYTES) };
  }

  read(key: string): Readable {
    return createReadStream(this.pathOf(key));
  }

  async remove(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}
