import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { FileTooLargeError, type FileStore, type StoredFile } from './file-store';
import { SNIFF_BYTES } from './file-types';

export interface S3Settings {
  bucket: string;
  region: string;
  /** An S3-compatible endpoint (MinIO, R2, …); absent: AWS. */
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible stores need. */
  forcePathStyle: boolean;
}

/**
 * Attachment bytes in an S3-compatible bucket. An upload is read into memory first (attachments
 * are small, `ATTACHMENT_MAX_BYTES`), so the size limit is enforced before anything is sent and
 * the object is written with its exact length in one request.
 */
export class S3FileStore implements FileStore {
  private readonly client: S3Client;

  constructor(private readonly settings: S3Settings) {
    this.client = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint,
      forcePathStyle: settings.forcePathStyle,
      credentials: settings.accessKeyId && settings.secretAccessKey ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } : undefined,
    });
  }

  async write(key: string, source: Readable, maxBytes: number): Promise<StoredFile> {
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of source) {
      bytes += (chunk as Buffer).length;
      if (bytes > maxBytes) {
        source.destroy();
        throw new FileTooLargeError('file too large');
      }
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    await this.client.send(new PutObjectCommand({ Bucket: this.settings.bucket, Key: key, Body: body, ContentLength: body.length }));
    return { bytes, head: body.subarray(0, SNIFF_BYTES) };
  }

  read(key: string): Readable {
    // A lazy stream: the object is fetched when the response starts reading.
    const { client, settings } = this;
    return Readable.from(
      (async function* () {
        const object = await client.send(new GetObjectCommand({ Bucket: settings.bucket, Key: key }));
        if (!object.Body) return;
        for await (const chunk of object.Body as AsyncIterable<Uint8Array>) yield chunk;
      })(),
    );
  }

  async remove(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key }));
  }
}
