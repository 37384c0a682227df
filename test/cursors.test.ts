import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { createCursorCodec } from '../src/common/cursor';

const SECRET = 'a-cursor-secret-that-is-long-enough-0123456789';
const codec = createCursorCodec(SECRET);
const channelId = '0b8f4c1e-3a52-4d7e-9a61-1f2e3d4c5b6a';

describe('cursors', () => {
  it('the same position always gives the same cursor, and it decodes to that position', () => {
    const cursor = codec.encode({ channelId, seq: 42 });
    expect(codec.encode({ channelId, seq: 42 })).toBe(cursor);
    expect(createCursorCodec(SECRET).encode({ channelId, seq: 42 })).toBe(cursor);
    expect(codec.decode(cursor)).toEqual({ channelId, seq: 42 });
  });

  it('denied: neighbouring positions look unrelated, and a changed or foreign cursor decodes to nothing', () => {
    const a = Buffer.from(codec.encode({ channelId, seq: 42 }), 'base64url');
    const b = Buffer.from(codec.encode({ channelId, seq: 43 }), 'base64url');
    // Different nonces and bodies: nothing of the sequence number shows.
    expect(a.subarray(0, 12).equals(b.subarray(0, 12))).toBe(false);
    const tampered = Buffer.from(a);
    tampered[tampered.length - 1] ^= 1;
    expect(codec.decode(tampered.toString('base64url'))).toBeUndefined();
    expect(createCursorCodec(`${SECRET}-other`).decode(a.toString('base64url'))).toBeUndefined();
    expect(codec.decodeInbox(a.toString('base64url'))).toBeUndefined();
  });

  it('cursors handed out before (random nonces) still decode', () => {
    const key = Buffer.from(hkdfSync('sha256', SECRET, 'care-messaging', 'cursor-v1', 32));
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(`c|${channelId}|7`, 'utf8'), cipher.final()]);
    const old = Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
    expect(codec.decode(old)).toEqual({ channelId, seq: 7 });
  });

  it('list positions (a time and an id; sort keys) are sealed too: the same position the same string, decoding back; others refused', () => {
    const at = new Date('2026-12-03T06:00:00.123Z');
    const cursor = codec.keyset.encode(at, channelId);
    expect(codec.keyset.encode(new Date(at), channelId)).toBe(cursor);
    expect(codec.keyset.decode(cursor)).toEqual({ at, id: channelId });
    expect(Buffer.from(cursor, 'base64url').toString('latin1')).not.toContain('2026-12-03');
    expect(codec.keyset.decode(codec.encode({ channelId, seq: 1 }))).toBeUndefined();
    expect(codec.keyset.decode(Buffer.from(`${at.toISOString()}|${channelId}`).toString('base64url'))).toBeUndefined();
    const sortKey = codec.encodeSortKey(['North | South Clinic', 'north-south']);
    expect(codec.decodeSortKey(sortKey, 2)).toEqual(['North | South Clinic', 'north-south']);
    expect(codec.decodeSortKey(sortKey, 3)).toBeUndefined();
    expect(codec.decodeSortKey(cursor, 2)).toBeUndefined();
  });
});
