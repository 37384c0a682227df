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

/** A position in a list ordered by a millisecond timestamp and then an id (channel lists, members, audit, documents). */
export interface KeysetPosition {
  at: Date;
  id: string;
}

/** Cursors of lists ordered by a timestamp and an id: sealed like the others, so clients neither read nor forge them. */
export interface KeysetCodec {
  encode(at: Date, id: string): string;
  /** Undefined when malformed or not made by this server. */
  decode(cursor: string): KeysetPosition | undefined;
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
  keyset: KeysetCodec;
  /** A position in a list ordered by text values (the clinic directory: name, slug). */
  encodeSortKey(values: readonly string[]): string;
  decodeSortKey(cursor: string, length: number): string[] | undefined;
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
      if (raw.length < 29 || raw.length > 1024) return undefined;
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8').split('|');
    } catch {
      return undefined;
    }
  };
  const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
  const keyset: KeysetCodec = {
    encode: (at, id) => seal(`k|${at.toISOString()}|${id}`),
    decode(cursor) {
      const parts = open(cursor);
      if (!parts || parts.length !== 3 || parts[0] !== 'k' || !ISO.test(parts[1]) || !UUID.test(parts[2])) return undefined;
      const at = new Date(parts[1]);
      return Number.isNaN(at.getTime()) || at.toISOString() !== parts[1] ? undefined : { at, id: parts[2] };
    },
  };
  return {
    keyset,
    // Each value encoded: names may hold `|`.
    encodeSortKey: (values) => seal(['s', ...values.map((value) => Buffer.from(value).toString('base64url'))].join('|')),
    decodeSortKey(cursor, length) {
      const parts = open(cursor);
      if (!parts || parts.length !== length + 1 || parts[0] !== 's') return undefined;
      return parts.slice(1).map((part) => Buffer.from(part, 'base64url').toString('utf8'));
    },
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
