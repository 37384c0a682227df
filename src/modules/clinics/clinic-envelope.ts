import { z } from 'zod';

/**
 * What crosses from one clinic to another: an envelope, written to the sender's outbox in the
 * sender's transaction and applied by the receiver at most once. It carries names and text, and
 * ids of its own (the envelope's, the conversation's shared thread id), never a row id of either
 * side, so the same envelope could travel between two deployments (as a signed HTTP request).
 * The receiver checks it as untrusted input.
 */
export const ENVELOPE_KINDS = ['CONVERSATION_STARTED', 'MESSAGE', 'CONVERSATION_CLOSED'] as const;
export type EnvelopeKind = (typeof ENVELOPE_KINDS)[number];

const text = (max: number) => z.string().min(1).max(max);
const remoteMessage = z.object({ authorName: text(200), body: z.string().max(100_000) });

export const envelopeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('CONVERSATION_STARTED'), id: z.string().uuid(), thread: z.string().uuid(), title: text(200), aboutPatientName: text(200).nullable(), message: remoteMessage }),
  z.object({ kind: z.literal('MESSAGE'), id: z.string().uuid(), thread: z.string().uuid(), message: remoteMessage }),
  z.object({ kind: z.literal('CONVERSATION_CLOSED'), id: z.string().uuid(), thread: z.string().uuid(), closedBy: text(200) }),
]);
export type Envelope = z.infer<typeof envelopeSchema>;

/** Who sent an envelope: established by the transport (here, the outbox row's organisation), never read from the envelope. */
export interface EnvelopeSender {
  slug: string;
  name: string;
}
