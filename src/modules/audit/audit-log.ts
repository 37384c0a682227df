import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { textArray } from '../../db/sql';

/** One row of the audit log, as written. */
export interface AuditRecord {
  organisationId: string;
  actorKind: string;
  actorId: string;
  requestId: string;
  /** The id the client sent in `x-request-id`, if a valid one. */
  clientRequestId?: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  outcome: 'ALLOWED' | 'REJECTED' | 'DENIED' | 'FAILED';
  errorCode: string | null;
  occurredAt: Date;
}

const COLUMNS = 'organisation_id, actor_kind, actor_id, request_id, client_request_id, action, target_type, target_id, outcome, error_code, occurred_at';
const UNNEST = 'unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::timestamptz[])';

/**
 * The statement (`?` placeholders) that writes audit records, whatever their number: alone, or
 * as a part of a larger one (then only `when` a condition of it holds, if given).
 */
export function auditInsert(records: readonly AuditRecord[], when?: string): { sql: string; params: string[] } {
  const column = (key: keyof AuditRecord) => textArray(records.map((record) => { const value = record[key]; return value instanceof Date ? value.toISOString() : (value ?? null); }));
  return { sql: `insert into audit_event (${COLUMNS}) select * from ${UNNEST}${when ? ` where ${when}` : ''}`, params: [
    column('organisationId'),
    column('actorKind'),
    column('actorId'),
    column('requestId'),
    column('clientRequestId'),
    column('action'),
    column('targetType'),
    column('targetId'),
    column('outcome'),
    column('errorCode'),
    column('occurredAt'),
  ] };
}

/** Writes audit records in one statement. */
export async function insertAuditRecords(em: EntityManager, records: readonly AuditRecord[]): Promise<void> {
  if (records.length === 0) return;
  const { sql, params } = auditInsert(records);
  await em.execute(sql, params);
}

export interface AuditLogOptions {
  /** Most records written in one statement. */
  batchSize?: number;
  /** How long a record may wait for others to share its write (and its disk flush). */
  flushMs?: number;
  /** Records waiting at most: beyond this, recording waits until a write makes room (backpressure). */
  maxQueued?: number;
}

/**
 * The audit log of reads and of attempts that changed nothing: records are queued and written
 * in batches, one statement and one commit for many requests (group commit), instead of one
 * synchronous disk flush per request. The queue is bounded: when it is full, recording waits for
 * the next write (requests slow down; nothing is dropped). `close()` writes what is queued.
 * What a crash (not a shutdown) can lose: the records still queued, normally those of the last
 * `flushMs`, at most `maxQueued` under a sustained burst; never a change's record.
 * Changes are not recorded here: their record is written in their own transaction (AuditTrail).
 */
export class AuditLog {
  private queue: AuditRecord[] = [];
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;
  private readonly roomWaiters: Array<() => void> = [];
  private readonly batchSize: number;
  private readonly flushMs: number;
  private readonly maxQueued: number;
  private closed = false;

  constructor(
    private readonly orm: MikroORM,
    private readonly logger: Logger,
    options: AuditLogOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 1_000;
    this.flushMs = options.flushMs ?? 25;
    this.maxQueued = options.maxQueued ?? 20_000;
  }

  /** Queues a record; resolves at once unless the queue is full, then once there is room. */
  record(record: AuditRecord): Promise<void> | undefined {
    if (this.closed) {
      // After shutdown began, written at once (rare: a request finishing during close).
      void this.write([record]);
      return undefined;
    }
    this.queue.push(record);
    if (this.queue.length >= this.batchSize) this.flushSoon(0);
    else this.flushSoon(this.flushMs);
    if (this.queue.length <= this.maxQueued) return undefined;
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Writes everything queued so far (a reader of the log sees what this process recorded). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.writing) {
      if (this.writing) await this.writing;
      else await this.writeNext();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.flush();
  }

  private flushSoon(ms: number): void {
    if (this.writing) return;
    if (this.timer && ms > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.writeNext();
    }, ms);
  }

  private writeNext(): Promise<void> {
    if (this.writing || this.queue.length === 0) return this.writing ?? Promise.resolve();
    const batch = this.queue.splice(0, this.batchSize);
    this.writing = this.write(batch).finally(() => {
      this.writing = undefined;
      while (this.roomWaiters.length > 0 && this.queue.length <= this.maxQueued) this.roomWaiters.shift()!();
      if (this.queue.length > 0) this.flushSoon(this.queue.length >= this.batchSize ? 0 : this.flushMs);
    });
    return this.writing;
  }

  private async write(batch: AuditRecord[]): Promise<void> {
    try {
      await insertAuditRecords(this.orm.em.fork(), batch);
    } catch (error) {
      if (batch.length > 1) {
        // One bad record must not take the others with it: each is written on its own.
        for (const record of batch) await this.write([record]);
        return;
      }
      // The whole record goes to the log, so the trail survives in the log stream.
      this.logger.error({ err: error, audit: batch[0] }, 'audit write failed');
    }
  }
}

/**
 * The audit record of one operation's change (a mutation root field), written in the change's
 * own transaction, so that no change commits without its record (fail closed). The audit
 * middleware sets the record before the resolver runs; the transaction helpers (`withEventLog`,
 * `auditedTransaction`) write it just before they commit. A mutation that ends without a committed
 * change (refused, rejected, or changing nothing) is recorded through the AuditLog queue instead.
 */
export class AuditTrail {
  private pending?: AuditRecord;
  private inTransaction = false;
  /** Whether the current mutation's record was committed with its change. */
  written = false;

  begin(record: AuditRecord | undefined): void {
    this.pending = record;
    this.inTransaction = false;
    this.written = false;
  }

  /** Inside a transaction about to commit: writes the record with it (once per mutation). */
  async writeIn(em: EntityManager, organisationId?: string): Promise<void> {
    const record = this.claim(organisationId);
    if (record) await insertAuditRecords(em, [record]);
  }

  /**
   * The record for the caller to write in the transaction about to commit (once per mutation),
   * e.g. as a part of its last statement; undefined when there is none to write.
   */
  claim(organisationId?: string): AuditRecord | undefined {
    if (!this.pending || this.written || this.inTransaction) return undefined;
    const record = organisationId ? { ...this.pending, organisationId } : this.pending;
    if (!record.organisationId) return undefined;
    this.pending = record;
    this.inTransaction = true;
    return record;
  }

  /** The transaction that carried the record committed. */
  committed(): void {
    if (this.inTransaction) this.written = true;
  }

  /** The transaction that carried the record rolled back: its record is gone with it. */
  rolledBack(): void {
    if (!this.written) this.inTransaction = false;
  }
}

/** What a transaction of an operation needs to carry the operation's audit record. */
export interface AuditedScope {
  readonly em: EntityManager;
  readonly audit?: AuditTrail;
}

/** Runs `work` in a transaction that also writes the operation's audit record (see AuditTrail). */
export async function auditedTransaction<T>(scope: AuditedScope, work: (em: EntityManager) => Promise<T>, organisationIdOf?: (value: T) => string): Promise<T> {
  try {
    const result = await scope.em.transactional(async (tx) => {
      const value = await work(tx);
      await scope.audit?.writeIn(tx, organisationIdOf?.(value));
      return value;
    });
    scope.audit?.committed();
    return result;
  } catch (error) {
    scope.audit?.rolledBack();
    throw error;
  }
}
