import type { RequestScope } from '../../graphql/context';
import type { AuditLog, AuditRecord } from './audit-log';
import { can } from '../../policy/permissions';
import { requirePerson } from '../../auth/actor';
import { connectionOf } from '../../common/graphql-types';
import type { CursorCodec } from '../../common/cursor';
import { apiError, ApiErrorCode, forbidden } from '../../errors';

/** An audit record as read back: its id, and the outcome as stored. */
export interface AuditRow extends Omit<AuditRecord, 'organisationId' | 'outcome'> {
  id: string;
  outcome: string;
}

export interface AuditFilter {
  actorId?: string | null;
  action?: string | null;
  targetId?: string | null;
  from?: Date | null;
  to?: Date | null;
}

/** The organisation's audit log, newest first, for messaging admins. */
export class AuditService {
  constructor(
    private readonly scope: RequestScope,
    private readonly deps: { auditLog: AuditLog; cursors: CursorCodec },
  ) {}

  async list(filter: AuditFilter, limit: number, after?: string) {
    const actor = requirePerson(this.scope.actor);
    if (!can(actor, 'readAudit')) throw forbidden();
    // What this process has recorded but not yet written is included.
    await this.deps.auditLog.flush();
    const conditions = ['organisation_id = ?'];
    const params: unknown[] = [actor.organisationId];
    const add = (sql: string, value: unknown) => {
      conditions.push(sql);
      params.push(value);
    };
    if (filter.actorId) add('actor_id = ?', filter.actorId);
    if (filter.action) add('action = ?', filter.action);
    if (filter.targetId) add('target_id = ?', filter.targetId);
    if (filter.from) add('occurred_at >= ?', filter.from);
    if (filter.to) add('occurred_at < ?', filter.to);
    if (after !== undefined) {
      const cursor = this.deps.cursors.keyset.decode(after);
      if (!cursor) throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid; start again from the first page.');
      conditions.push('(occurred_at, id) < (?::timestamptz, ?::uuid)');
      params.push(cursor.at.toISOString(), cursor.id);
    }
    const rows = await this.scope.em.execute<Array<Record<string, unknown>>>(
      `select id, occurred_at, actor_kind, actor_id, request_id, client_request_id, action, target_type, target_id, outcome, error_code
         from audit_event where ${conditions.join(' and ')}
        order by occurred_at desc, id desc limit ?`,
      [...params, limit + 1],
    );
    const events: AuditRow[] = rows.slice(0, limit).map((row) => ({
      id: String(row.id),
      occurredAt: new Date(row.occurred_at as string),
      actorKind: String(row.actor_kind),
      actorId: String(row.actor_id),
      requestId: String(row.request_id),
      clientRequestId: (row.client_request_id as string | null) ?? null,
      action: String(row.action),
      targetType: (row.target_type as string | null) ?? null,
      targetId: (row.target_id as string | null) ?? null,
      outcome: String(row.outcome),
      errorCode: (row.error_code as string | null) ?? null,
    }));
    return connectionOf(events, (event) => this.deps.cursors.keyset.encode(event.occurredAt, event.id), { hasNextPage: rows.length > limit, hasPreviousPage: false });
  }
}
