import type { RequestScope } from '../../graphql/context';
import type { AuditLog } from './audit-log';
import type { CursorCodec } from '../../common/cursor';
import { requirePerson, type PersonActor } from '../../auth/actor';
import { connectionOf, type Connection } from '../../common/graphql-types';
import { isUuid } from '../../common/validation';
import { apiError, ApiErrorCode, forbidden } from '../../errors';
import { can } from '../../policy/permissions';
import { channelPolicy } from '../../policy/channels';
import { PatientGuardian } from '../directory/patient.entity';

/** The audited reads that open a channel's messages (one record per channel a read returned messages of). */
export const MESSAGE_READS = ['Channel.messages', 'Message.replies', 'Query.messageSearch', 'Query.patientMessages', 'Query.message', 'ResponseDue.message'] as const;

export enum AccessorKind {
  TEAM_MEMBER = 'TEAM_MEMBER',
  INTEGRATION = 'INTEGRATION',
  OPERATOR = 'OPERATOR',
}

export interface AccessLogEntry {
  id: string;
  occurredAt: Date;
  accessorKind: AccessorKind;
  accessorName: string;
  accessorRole: string | null;
  channelId: string;
  /** Null for patients and guardians: which read it was (a thread, search results) could hint at notes they do not see. */
  via: string | null;
}

interface Row {
  id: string;
  occurred_at: string;
  actor_kind: string;
  team_member_name: string | null;
  team_member_roles: string[] | null;
  organisation_name: string;
  channel_id: string;
  action: string;
}

/**
 * Who on the clinic's side opened a patient's messages, from the audit trail: team members by
 * name and role group, integrations and operators as the organisation and a category (never a
 * client id). Only channels of the kinds the patient sees, and that are theirs (they are its
 * patient or a member): reads of staff channels about them never appear, since they would show
 * that such a channel exists. The patient, a guardian for a dependant, and messaging admins.
 */
export class AccessLogService {
  constructor(
    private readonly scope: RequestScope,
    private readonly deps: { auditLog: AuditLog; cursors: CursorCodec },
  ) {}

  async list(patientId: string | null | undefined, limit: number, after?: string | null): Promise<Connection<AccessLogEntry>> {
    const actor = requirePerson(this.scope.actor);
    const subject = await this.subjectOf(actor, patientId);
    const cursor = after != null ? this.deps.cursors.keyset.decode(after) : undefined;
    if (after != null && !cursor) throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid; start again from the first page.');
    // Reads this process recorded but has not written yet are included.
    await this.deps.auditLog.flush();
    const { organisationId } = actor;
    const rows = await this.scope.db.execute<Row[]>(
      `with theirs as (
         select c.id::text as id from channel c
          where c.organisation_id = ? and ${channelPolicy.sql.kindsVisibleTo({ kind: 'patient' }, 'c')}
            and (c.patient_id = ? or exists (select 1 from channel_member m where m.organisation_id = c.organisation_id and m.channel_id = c.id and m.patient_id = ?)))
       select a.id, a.occurred_at, a.actor_kind, tm.name as team_member_name, tm.roles as team_member_roles, o.name as organisation_name, a.target_id as channel_id, a.action
         from audit_event a
         join organisation o on o.id = a.organisation_id
         left join team_member tm on a.actor_kind = 'staff' and tm.organisation_id = a.organisation_id and tm.id::text = a.actor_id
        where a.organisation_id = ? and a.target_type = 'channel' and a.target_id in (select id from theirs)
          and a.action = any(?::text[]) and a.outcome = 'ALLOWED' and a.actor_kind in ('staff', 'service', 'operator')
          ${cursor ? 'and (a.occurred_at, a.id) < (?::timestamptz, ?::uuid)' : ''}
        order by a.occurred_at desc, a.id desc
        limit ?`,
      [organisationId, subject, subject, organisationId, `{${MESSAGE_READS.join(',')}}`, ...(cursor ? [cursor.at.toISOString(), cursor.id] : []), limit + 1],
    );
    const entries = rows.slice(0, limit).map((row) => entryOf(row, actor.kind === 'staff'));
    return connectionOf(entries, (entry) => this.deps.cursors.keyset.encode(entry.occurredAt, entry.id), { hasNextPage: rows.length > limit, hasPreviousPage: false });
  }

  /** Whose log the caller may read: their own, a dependant's (guardians), any patient's (messaging admins). */
  private async subjectOf(actor: PersonActor, patientId: string | null | undefined): Promise<string> {
    if (actor.kind === 'patient') {
      if (!patientId || patientId === actor.patientId) return actor.patientId;
      if (isUuid(patientId) && (await this.scope.em.count(PatientGuardian, { organisationId: actor.organisationId, guardianPatientId: actor.patientId, dependantPatientId: patientId })) > 0) return patientId;
      throw forbidden();
    }
    if (!can(actor, 'readAudit')) throw forbidden();
    if (!patientId) throw apiError(ApiErrorCode.BAD_USER_INPUT, 'Name the patient (patientId).');
    if (!isUuid(patientId)) throw apiError(ApiErrorCode.BAD_USER_INPUT, 'The patient id is not valid.');
    return patientId;
  }
}

function entryOf(row: Row, showVia: boolean): AccessLogEntry {
  const kind = row.actor_kind === 'staff' ? AccessorKind.TEAM_MEMBER : row.actor_kind === 'service' ? AccessorKind.INTEGRATION : AccessorKind.OPERATOR;
  return {
    id: row.id,
    occurredAt: new Date(row.occurred_at),
    accessorKind: kind,
    accessorName: kind === AccessorKind.TEAM_MEMBER ? (row.team_member_name ?? 'A former team member') : row.organisation_name,
    accessorRole: kind === AccessorKind.TEAM_MEMBER ? (row.team_member_roles?.[0] ?? null) : null,
    channelId: row.channel_id,
    via: showVia ? row.action : null,
  };
}
