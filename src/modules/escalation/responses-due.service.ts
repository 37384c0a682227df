import type { RequestScope } from '../../graphql/context';
import { requireStaff } from '../../auth/actor';
import { apiError, ApiErrorCode } from '../../errors';
import { connectionOf, type Connection } from '../../common/graphql-types';
import type { CursorCodec } from '../../common/cursor';
import { channelPolicy } from '../../policy/channels';
import { messagePolicy } from '../../policy/messages';
import type { ChannelService } from '../channels/channel.service';
import { preparedRows } from '../../db/prepared';
import type { Urgency } from './due-time';

export const RESPONSES_DUE_SCOPES = ['MINE', 'ORGANISATION'] as const;
export type ResponsesDueScope = (typeof RESPONSES_DUE_SCOPES)[number];

/** A patient waiting for a reply: their oldest unanswered message in one channel, and when it is due. */
export interface ResponseDue {
  channelId: string;
  patientId: string | null;
  messageId: string;
  urgency: Urgency;
  waitingSince: Date;
  dueAt: Date;
  escalationLevel: number;
  escalatedAt: Date | null;
  /** When the list was read: what overdue and waited minutes are counted from. */
  readAt: Date;
}

interface Row {
  channel_id: string;
  patient_id: string | null;
  message_id: string;
  urgency: Urgency;
  waiting_since: string;
  due_at: string;
  level: number;
  escalated_at: string | null;
}

const MINUTE = 60_000;

/** What is overdue or due soon, soonest first: the team member's own channels, or every channel they may see. Staff. */
export class ResponsesDueService {
  constructor(
    private readonly scope: RequestScope,
    private readonly deps: { cursors: CursorCodec; channels: ChannelService; clock: () => Date },
  ) {}

  async list(scope: ResponsesDueScope, dueWithinMinutes: number | null | undefined, limit: number, after?: string | null): Promise<Connection<ResponseDue>> {
    const actor = requireStaff(this.scope.actor);
    if (dueWithinMinutes != null && (!Number.isInteger(dueWithinMinutes) || dueWithinMinutes < 0 || dueWithinMinutes > 43_200)) {
      throw apiError(ApiErrorCode.BAD_USER_INPUT, 'dueWithinMinutes is 0 (overdue only) to 43200.');
    }
    const cursor = after != null ? this.deps.cursors.keyset.decode(after) : undefined;
    const now = this.deps.clock();
    if (after != null && !cursor) throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid; start again from the first page.');
    const where =
      scope === 'MINE'
        ? {
            sql: `exists (select 1 from channel_member cm where cm.organisation_id = c.organisation_id and cm.channel_id = c.id and cm.team_member_id = ? and cm.left_at is null)`,
            params: [actor.teamMemberId],
          }
        : channelPolicy.sql.visible(actor, 'c', await this.deps.channels.answersPatients());
    const rows = await preparedRows<Row[]>(
      this.scope.db,
      `select r.channel_id, c.patient_id, r.message_id, r.urgency, r.waiting_since, r.due_at, r.level, r.escalated_at
         from response_due r
         join channel c on c.organisation_id = r.organisation_id and c.id = r.channel_id
        where r.organisation_id = ? and c.status <> 'CLOSED' and ${where.sql}
          and not ${messagePolicy.sql.answersWait('r')}
          ${dueWithinMinutes != null ? 'and r.due_at <= ?::timestamptz' : ''}
          ${cursor ? 'and (r.due_at, r.channel_id) > (?::timestamptz, ?::uuid)' : ''}
        order by r.due_at, r.channel_id
        limit ?`,
      [
        actor.organisationId,
        ...where.params,
        ...(dueWithinMinutes != null ? [new Date(now.getTime() + dueWithinMinutes * MINUTE)] : []),
        ...(cursor ? [cursor.at.toISOString(), cursor.id] : []),
        limit + 1,
      ],
    );
    const items = rows.slice(0, limit).map(
      (row): ResponseDue => ({
        channelId: row.channel_id,
        patientId: row.patient_id,
        messageId: row.message_id,
        urgency: row.urgency,
        waitingSince: new Date(row.waiting_since),
        dueAt: new Date(row.due_at),
        escalationLevel: Number(row.level),
        escalatedAt: row.escalated_at ? new Date(row.escalated_at) : null,
        readAt: now,
      }),
    );
    return connectionOf(items, (item) => this.deps.cursors.keyset.encode(item.dueAt, item.channelId), { hasNextPage: rows.length > limit, hasPreviousPage: false });
  }
}
