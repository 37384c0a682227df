import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Envelope } from './clinic-envelope';

/** The envelope without its id: the outbox gives it one. */
export type EnvelopeDraft = Envelope extends infer E ? (E extends Envelope ? Omit<E, 'id'> : never) : never;

/** In the sender's transaction: the envelope leaves only if the change it reports commits. */
export async function queueEnvelope(em: EntityManager, organisationId: string, toSlug: string, draft: EnvelopeDraft): Promise<void> {
  const id = randomUUID();
  await em.execute('insert into clinic_outbox (organisation_id, id, to_slug, kind, envelope) values (?, ?, ?, ?, ?::jsonb)', [
    organisationId,
    id,
    toSlug,
    draft.kind,
    JSON.stringify({ ...draft, id }),
  ]);
}
