import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from 'node:crypto';

/**
 * Opaque, tamper-proof cursors. A cursor names a position in one channel's event sequence; it
 * is encrypted (AES-256-GCM) so that a client cannot read the sequence number and infer how
 * many events it was not shown between two it was, nor forge a position. The nonce is derived
 * from the text by a keyed hash (a synthetic IV, as in AES-GCM-SIV): the same position always
 * gives the same cursor (clients may cache and compare them), distinct positions never share a
 * nonce, and no random bytes are drawn per cursor.
 */
export interface ChannelPosition {
  channelId: string;
  seq: number;
}

/** A position in one person's inbox stream: an event of their organisation's log. */
export interface InboxPosition {
  personKey: string;
  position: number;
  channelId: string;
  seq: number;
}

/** A short-lived capability to upload (u) or download (d) one attachment's bytes. */
export interface FileTicket {
  action: 'u' | 'd';
  organisationId: string;
  attachmentId: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** Whom a download URL was handed to (`staff:<id>`, `patient:<id>`, `service:<id>`): the download is audited as theirs. */
  holder?: string;
}

export interface CursorCodec {
  encode(position: ChannelPosition): string;
  /** Undefined when the cursor is malformed or was not made by this server. */
  decode(cursor: string): ChannelPosition | undefined;
  encodeInbox(position: InboxPosition): string;
  decodeInbox(cursor: string): InboxPosition | undefined;
  /** Sealed like cursors: unreadable and unforgeable by clients. */
  encodeFileTicket(ticket: FileTicket): string;
  /** Undefined when malformed, forged or expired. */
  decodeFileTicket(ticket: string, now?: number): FileTicket | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const count = (text: string | undefined) => {
  const value = Number(text);
  return text !== undefined && text !== '' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
};

export function createCursorCodec(secret: string): CursorCodec {
  const key = Buffer.from(hkdfSync('sha256', secret, 'care-messaging', 'cursor-v1', 32));
  const nonceKey = Buffer.from(hkdfSync('sha256', secret, 'care-messaging', 'cursor-nonce-v1', 32));
  const seal = (text: string) => {
    const iv = createHmac('sha256', nonceKey).update(text).digest().subarray(0, 12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  };
  const open = (cursor: string): string[] | undefined => {
    try {
      const raw = Buffer.from(cursor, 'base64url');
      if (raw.length < 29 || raw.length > 256) return undefined;
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8').split('|');
    } catch {
      return undefined;
    }
  };
  return {
    encode: ({ channelId, seq }) => seal(`c|${channelId}|${seq}`),
    decode(cursor) {
      const parts = open(cursor);
      if (!parts || parts.length !== 3 || parts[0] !== 'c' || !UUID.test(parts[1])) return undefined;
      const seq = count(parts[2]);
      return seq === undefined ? undefined : { channelId: parts[1], seq };
    },
    // The holder is encoded: a service client id may hold `|` or `:`.
    encodeFileTicket: ({ action, organisationId, attachmentId, expiresAt, holder }) =>
      seal(`f|${action}|${organisationId}|${attachmentId}|${expiresAt}${holder ? `|${Buffer.from(holder).toString('base64url')}` : ''}`),
    decodeFileTicket(ticket, now = Date.now()) {
      const parts = open(ticket);
      if (!parts || (parts.length !== 5 && parts.length !== 6) || parts[0] !== 'f' || (parts[1] !== 'u' && parts[1] !== 'd') || !UUID.test(parts[2]) || !UUID.test(parts[3])) return undefined;
      const expiresAt = count(parts[4]);
      if (expiresAt === undefined || expiresAt <= now) return undefined;
      return { action: parts[1], organisationId: parts[2], attachmentId: parts[3], expiresAt, holder: parts[5] === undefined ? undefined : Buffer.from(parts[5], 'base64url').toString() };
    },
    encodeInbox: ({ personKey, position, channelId, seq }) => seal(`i|${personKey}|${position}|${channelId}|${seq}`),
    decodeInbox(cursor) {
      const parts = open(cursor);
      if (!parts || parts.length !== 5 || parts[0] !== 'i') return undefined;
      const position = count(parts[2]);
      const seq = count(parts[4]);
      if (position === undefined || seq === undefined || !(UUID.test(parts[3]) || parts[3] === '')) return undefined;
      return { personKey: parts[1], position, channelId: parts[3], seq };
    },
  };
}

/**
 * Cursors of lists ordered by a millisecond timestamp and then an id (channel lists, members).
 * They carry nothing secret, so they are only encoded; anything malformed decodes to undefined.
 */
export const timeIdCursor = {
  encode(at: Date, id: string): string {
    return Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
  },
  decode(cursor: string): { at: Date; id: string } | undefined {
    const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(
      Buffer.from(cursor, 'base64url').toString('utf8'),
    );
    if (!match) return undefined;
    const at = new Date(match[1]);
    return Number.isNaN(at.getTime()) || at.toISOString() !== match[1] ? undefined : { at, id: match[2] };
  },
};
