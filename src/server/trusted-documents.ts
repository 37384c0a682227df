import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Trusted documents (an operation safelist): with a manifest, only the operations in it run. The
 * manifest is a JSON object of key to document text, as GraphQL Code Generator's client preset
 * writes it with `persistedDocuments: true` (`persisted-documents.json`; the keys are its hashes,
 * sha1 or sha256). A client sends the document's key as `extensions.persistedQuery.sha256Hash`
 * (the Apollo persisted-query protocol) with or without the text, or the text alone; anything else
 * is PERSISTED_QUERY_NOT_FOUND, before it is parsed.
 */
export class TrustedDocuments {
  private constructor(
    private readonly byKey: ReadonlyMap<string, string>,
    private readonly texts: ReadonlySet<string>,
  ) {}

  static load(path: string): TrustedDocuments {
    let manifest: unknown;
    try {
      manifest = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new Error(`TRUSTED_DOCUMENTS: cannot read ${path} as JSON (${(error as Error).message})`);
    }
    if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new Error('TRUSTED_DOCUMENTS: the manifest is a JSON object of key to document text');
    const entries = Object.entries(manifest as Record<string, unknown>);
    if (entries.some(([, text]) => typeof text !== 'string' || text.trim() === '')) throw new Error('TRUSTED_DOCUMENTS: every value of the manifest is a document text');
    return new TrustedDocuments(new Map(entries as Array<[string, string]>), new Set(entries.map(([, text]) => sha256(text as string))));
  }

  get size(): number {
    return this.byKey.size;
  }

  /** The document a request may run (its text, from the manifest for a key alone), or undefined when it is not trusted. */
  admit(request: { query?: unknown; extensions?: unknown }): string | undefined {
    const key = (request.extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)?.persistedQuery?.sha256Hash;
    if (typeof request.query === 'string' && request.query !== '') return this.texts.has(sha256(request.query)) ? request.query : undefined;
    return typeof key === 'string' ? this.byKey.get(key) : undefined;
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The answer to an operation that is not in the manifest. */
export const UNTRUSTED_DOCUMENT = {
  message: 'Only the operations this server was given (trusted documents) run here; this one is not among them.',
  extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' },
};
