import { z } from 'zod';

/**
 * What crosses from one clinic to another: an envelope, written to the sender's outbox in the
 * sender's transaction and applied by the receiver at most once. It carries names and text, and
 * ids of its own (the envelope's, the conversation's shared thread id), never a row id of either
 * side, so the same envelope could travel between two deployments (as a signed HTTP request).
 * The receiver checks it as untrusted input.
 */
export const ENVELOPE_KINDS = ['CONVERSATION_STARTED', 'MESSAGE', 'CONVERSATION_CLOSED', 'HANDOVER_OFFERED', 'HANDOVER_ACCEPTED', 'HANDOVER_DECLINED'] as const;
export type EnvelopeKind = (typeof ENVELOPE_KINDS)[number];

const text = (max: number) => z.string().min(1).max(max);
const remoteMessage = z.object({ authorName: text(200), body: z.string().max(100_000) });

/** A file that goes with a handover: copied by the sender into the transfer area, copied out by the receiver when it accepts. */
export const TRANSFER_KEY = /^transfer\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const transferredFile = z.object({ fileName: text(255), contentType: text(100), size: z.number().int().positive(), transferKey: z.string().regex(TRANSFER_KEY) });

/** What a handover offers: the patient as the sender knows them, the consent, and the chosen messages. */
const handoverOffer = z.object({
  title: text(200),
  note: z.string().max(2_000).nullable(),
  offeredBy: text(200),
  patient: z.object({ name: text(200), email: z.string().max(320).nullable(), phone: z.string().max(32).nullable(), sharedIdentifier: z.string().max(200).nullable() }),
  consent: z.object({ attestedBy: text(200), obtainedAt: z.string().datetime(), method: z.enum(['VERBAL', 'WRITTEN', 'PORTAL']) }),
  transcript: z
    .array(z.object({ authorName: text(200), fromPatient: z.boolean(), body: z.string().max(100_000), sentAt: z.string().datetime(), files: z.array(transferredFile).max(10) }))
    .max(500),
});
export type HandoverOffer = z.infer<typeof handoverOffer>;

export const envelopeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('CONVERSATION_STARTED'), id: z.string().uuid(), thread: z.string().uuid(), title: text(200), aboutPatientName: text(200).nullable(), message: remoteMessage }),
  z.object({ kind: z.literal('MESSAGE'), id: z.string().uuid(), thread: z.string().uuid(), message: remoteMessage }),
  z.object({ kind: z.literal('CONVERSATION_CLOSED'), id: z.string().uuid(), thread: z.string().uuid(), closedBy: text(200) }),
  z.object({ kind: z.literal('HANDOVER_OFFERED'), id: z.string().uuid(), thread: z.string().uuid(), offer: handoverOffer }),
  z.object({ kind: z.literal('HANDOVER_ACCEPTED'), id: z.string().uuid(), thread: z.string().uuid(), decidedBy: text(200) }),
  z.object({ kind: z.literal('HANDOVER_DECLINED'), id: z.string().uuid(), thread: z.string().uuid(), decidedBy: text(200), reason: text(1_000) }),
]);
export type Envelope = z.infer<typeof envelopeSchema>;

/** Who sent an envelope: established by the transport (here, the outbox row's organisation), never read from the envelope. */
export interface EnvelopeSender {
  slug: string;
  name: string;
}
