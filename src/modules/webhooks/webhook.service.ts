import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { RequestScope } from '../../graphql/context';
import type { Config } from '../../config';
import type { CursorCodec } from '../../common/cursor';
import { auditedTransaction } from '../audit/audit-log';
import { can } from '../../policy/permissions';
import type { Actor, OrganisationActor } from '../../auth/actor';
import { UserError, UserErrorCode, apiError, ApiErrorCode, forbidden } from '../../errors';
import { isUuid, parseInput, uuid } from '../../common/validation';
import { connectionOf, type Connection } from '../../common/graphql-types';
import { textArray } from '../../db/sql';
import { checkUrl, DestinationRefused, resolveAllowed } from './destination-wall';
import { destinationRules } from './webhook-dispatcher';
import { WebhookEventType } from './webhook-events';
import { newSigningSecret, type SecretBox } from './webhook-secrets';

export enum WebhookDeliveryStatus {
  PENDING = 'PENDING',
  DELIVERED = 'DELIVERED',
  DEAD = 'DEAD',
}

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string;
  eventTypes: WebhookEventType[];
  includeContent: boolean;
  enabled: boolean;
  disabledReason: string | null;
  disabledAt: Date | null;
  failureStreak: number;
  failingSince: Date | null;
  previousSecretExpiresAt: Date | null;
  secretRotatedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface WebhookDelivery {
  id: string;
  /** Its place in the endpoint's order (for cursors; not shown). */
  seq: string;
  endpointId: string;
  eventId: string;
  eventType: WebhookEventType;
  occurredAt: Date;
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  replayOf: string | null;
  createdAt: Date;
}

const ENDPOINT_COLUMNS = `id, url, description, event_types, include_content, enabled, disabled_reason, disabled_at, failure_streak, failing_since,
  case when previous_secret_expires_at > now() then previous_secret_expires_at end as previous_secret_expires_at, secret_rotated_at, created_at, updated_at`;
const DELIVERY_COLUMNS = `id, seq, endpoint_id, event_id, event_type, occurred_at, data, status, attempts, next_attempt_at, last_attempt_at, last_status_code, last_error,
  delivered_at, replay_of, created_at`;

const eventTypes = z
  .array(z.nativeEnum(WebhookEventType))
  .min(1, 'Subscribe to at least one event type.')
  .transform((types) => [...new Set(types)]);
const description = z.string().trim().max(200, 'The description must be at most 200 characters.');
const url = z.string().trim().max(2000, 'The URL must be at most 2000 characters.');
const createInput = z.object({ url, description: description.nullish(), eventTypes, includeContent: z.boolean().nullish(), enabled: z.boolean().nullish() });
const updateInput = z.object({
  endpointId: uuid('The endpoint id'),
  url: url.nullish(),
  description: description.nullish(),
  eventTypes: eventTypes.nullish(),
  includeContent: z.boolean().nullish(),
  enabled: z.boolean().nullish(),
});
const endpointInput = z.object({ endpointId: uuid('The endpoint id') });
const rotateInput = z.object({
  endpointId: uuid('The endpoint id'),
  overlapMinutes: z.number().int('Whole minutes.').min(0, 'At least 0 minutes.').max(10_080, 'At most a week (10080 minutes).').nullish(),
});
const replayInput = z.object({ deliveryId: uuid('The delivery id') });

/** Each endpoint costs a delivery per event: a bound keeps one organisation from multiplying its events without end. */
const MAX_ENDPOINTS = 20;

const REFUSALS: Record<DestinationRefused['reason'], string> = {
  NOT_HTTPS: 'Webhook URLs must use https.',
  BAD_URL: 'The URL must be an http(s) address without credentials or fragment.',
  PRIVATE_ADDRESS: 'The URL points at a private, loopback, link-local or otherwise non-public address.',
  UNRESOLVABLE: 'The URL’s host cannot be resolved.',
};

/**
 * Webhook endpoints of an organisation and their delivery log: for messaging admins and the
 * organisation's integrations (service tokens). A URL must reach a public address, checked when
 * registered and again at every send.
 */
export class WebhookService {
  constructor(
    private readonly scope: RequestScope,
    private readonly deps: { config: Config; cursors: CursorCodec; secrets: SecretBox; dispatcher: { kick(): void } },
  ) {}

  private manager(): OrganisationActor {
    const actor: Actor | undefined = this.scope.actor;
    if (actor?.kind === 'service' || (actor?.kind === 'staff' && can(actor, 'manageWebhooks'))) return actor;
    throw new UserError(UserErrorCode.FORBIDDEN, 'Webhooks are managed with the Messaging Admin permission or by an integration.');
  }

  /** As `manager`, for queries (an error, not a userError). */
  private reader(): OrganisationActor {
    try {
      return this.manager();
    } catch {
      throw forbidden();
    }
  }

  async list(): Promise<WebhookEndpoint[]> {
    const { organisationId } = this.reader();
    const rows = await this.scope.em.execute<EndpointRow[]>(`select ${ENDPOINT_COLUMNS} from webhook_endpoint where organisation_id = ? order by created_at, id`, [organisationId]);
    return rows.map(toEndpoint);
  }

  async create(input: unknown): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const { organisationId } = this.manager();
    const data = parseInput(createInput, input);
    const target = await this.checkedUrl(data.url);
    const secret = newSigningSecret();
    const endpoint = await auditedTransaction(this.scope, async (em) => {
      const [row] = await em.execute<EndpointRow[]>(
        `insert into webhook_endpoint (organisation_id, url, description, event_types, include_content, enabled, secret_sealed, from_position)
         select ?, ?, ?, ?::text[], ?, ?, ?, coalesce((select last_position from event_position where organisation_id = ?), 0)
          where (select count(*) from webhook_endpoint where organisation_id = ?) < ${MAX_ENDPOINTS}
         returning ${ENDPOINT_COLUMNS}`,
        [organisationId, target, data.description ?? '', textArray(data.eventTypes), data.includeContent ?? false, data.enabled ?? true, this.deps.secrets.seal(secret), organisationId, organisationId],
      );
      if (!row) throw new UserError(UserErrorCode.INVALID_INPUT, `An organisation has at most ${MAX_ENDPOINTS} webhook endpoints.`, 'input');
      // Events from now on: the feed starts at the organisation's latest position.
      await em.execute(
        `insert into webhook_feed (organisation_id, last_position)
         select ?, coalesce((select last_position from event_position where organisation_id = ?), 0)
         on conflict (organisation_id) do nothing`,
        [organisationId, organisationId],
      );
      return toEndpoint(row);
    });
    return { endpoint, secret };
  }

  async update(input: unknown): Promise<WebhookEndpoint> {
    const { organisationId } = this.manager();
    const data = parseInput(updateInput, input);
    const target = data.url != null ? await this.checkedUrl(data.url) : null;
    const endpoint = await this.write((em) =>
      em.execute<EndpointRow[]>(
        `update webhook_endpoint set url = coalesce(?, url), description = coalesce(?, description), event_types = coalesce(?::text[], event_types),
                include_content = coalesce(?, include_content),
                enabled = coalesce(?, enabled),
                -- Turned on again: a clean slate; turned off by hand: says so.
                disabled_reason = case when ? then null when ? = false and enabled then 'MANUAL' else disabled_reason end,
                disabled_at = case when ? then null when ? = false and enabled then now() else disabled_at end,
                failure_streak = case when ? then 0 else failure_streak end,
                failing_since = case when ? then null else failing_since end,
                updated_at = now()
          where organisation_id = ? and id = ? returning ${ENDPOINT_COLUMNS}`,
        [
          target,
          data.description ?? null,
          data.eventTypes ? textArray(data.eventTypes) : null,
          data.includeContent ?? null,
          data.enabled ?? null,
          data.enabled === true,
          data.enabled ?? null,
          data.enabled === true,
          data.enabled ?? null,
          data.enabled === true,
          data.enabled === true,
          organisationId,
          data.endpointId,
        ],
      ),
    );
    if (data.enabled) this.deps.dispatcher.kick();
    return endpoint;
  }

  async delete(input: unknown): Promise<WebhookEndpoint> {
    const { organisationId } = this.manager();
    const { endpointId } = parseInput(endpointInput, input);
    return this.write((em) => em.execute<EndpointRow[]>(`delete from webhook_endpoint where organisation_id = ? and id = ? returning ${ENDPOINT_COLUMNS}`, [organisationId, endpointId]));
  }

  /** A new secret; the previous one still signs (a second signature) for `overlapMinutes` (default a day), so receivers can switch without losing a delivery. */
  async rotateSecret(input: unknown): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const { organisationId } = this.manager();
    const data = parseInput(rotateInput, input);
    const secret = newSigningSecret();
    const endpoint = await this.write((em) =>
      em.execute<EndpointRow[]>(
        `update webhook_endpoint set previous_secret_sealed = secret_sealed, secret_sealed = ?,
                previous_secret_expires_at = now() + make_interval(mins => ?), secret_rotated_at = now(), updated_at = now()
          where organisation_id = ? and id = ? returning ${ENDPOINT_COLUMNS}`,
        [this.deps.secrets.seal(secret), data.overlapMinutes ?? 1440, organisationId, data.endpointId],
      ),
    );
    return { endpoint, secret };
  }

  /** The endpoint's deliveries, newest first, optionally of one status. */
  async deliveries(endpointId: string, status: WebhookDeliveryStatus | null | undefined, limit: number, after?: string | null): Promise<Connection<WebhookDelivery>> {
    const { organisationId } = this.reader();
    if (!isUuid(endpointId)) throw apiError(ApiErrorCode.BAD_USER_INPUT, 'The endpoint id is not valid.');
    const [before] = after != null ? (this.deps.cursors.decodeSortKey(after, 1) ?? []) : [];
    if (after != null && !/^\d+$/.test(before ?? '')) throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid; start again from the first page.');
    const rows = await this.scope.em.execute<DeliveryRow[]>(
      `select ${DELIVERY_COLUMNS} from webhook_delivery
        where organisation_id = ? and endpoint_id = ? ${status ? 'and status = ?' : ''} ${before ? 'and seq < ?::bigint' : ''}
        order by seq desc limit ?`,
      [organisationId, endpointId, ...(status ? [status] : []), ...(before ? [before] : []), limit + 1],
    );
    const deliveries = rows.slice(0, limit).map(toDelivery);
    return connectionOf(deliveries, (delivery) => this.deps.cursors.encodeSortKey([delivery.seq]), { hasNextPage: rows.length > limit, hasPreviousPage: false });
  }

  /** Sends a delivery's event again, with the same `webhook-id`, after what is already waiting for its endpoint. */
  async replay(input: unknown): Promise<WebhookDelivery> {
    const { organisationId } = this.manager();
    const { deliveryId } = parseInput(replayInput, input);
    const [row] = await auditedTransaction(this.scope, (em) =>
      em.execute<DeliveryRow[]>(
        `insert into webhook_delivery (organisation_id, endpoint_id, event_id, event_type, occurred_at, data, replay_of)
         select organisation_id, endpoint_id, event_id, event_type, occurred_at, data, id from webhook_delivery where organisation_id = ? and id = ?
         returning ${DELIVERY_COLUMNS}`,
        [organisationId, deliveryId],
      ),
    );
    if (!row) throw new UserError(UserErrorCode.NOT_FOUND, 'No such delivery.', 'input.deliveryId');
    this.deps.dispatcher.kick();
    return toDelivery(row);
  }

  private async checkedUrl(raw: string): Promise<string> {
    const rules = destinationRules(this.deps.config.webhooks);
    try {
      const target = checkUrl(raw, rules);
      await resolveAllowed(target, rules);
      return target.toString();
    } catch (error) {
      if (error instanceof DestinationRefused) throw new UserError(UserErrorCode.WEBHOOK_URL_REFUSED, REFUSALS[error.reason], 'input.url');
      throw error;
    }
  }

  private async write(statement: (em: EntityManager) => Promise<EndpointRow[]>): Promise<WebhookEndpoint> {
    return auditedTransaction(this.scope, async (em) => {
      const [row] = await statement(em);
      if (!row) throw new UserError(UserErrorCode.NOT_FOUND, 'No such webhook endpoint.', 'input.endpointId');
      return toEndpoint(row);
    });
  }
}

interface EndpointRow {
  id: string;
  url: string;
  description: string;
  event_types: WebhookEventType[];
  include_content: boolean;
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: string | null;
  failure_streak: number;
  failing_since: string | null;
  previous_secret_expires_at: string | null;
  secret_rotated_at: string | null;
  created_at: string;
  updated_at: string;
}

interface DeliveryRow {
  id: string;
  seq: string;
  endpoint_id: string;
  event_id: string;
  event_type: WebhookEventType;
  occurred_at: string;
  data: Record<string, unknown>;
  status: WebhookDeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: string | null;
  replay_of: string | null;
  created_at: string;
}

const date = (value: string | null) => (value === null ? null : new Date(value));

const toEndpoint = (row: EndpointRow): WebhookEndpoint => ({
  id: row.id,
  url: row.url,
  description: row.description,
  eventTypes: row.event_types,
  includeContent: row.include_content,
  enabled: row.enabled,
  disabledReason: row.disabled_reason,
  disabledAt: date(row.disabled_at),
  failureStreak: row.failure_streak,
  failingSince: date(row.failing_since),
  previousSecretExpiresAt: date(row.previous_secret_expires_at),
  secretRotatedAt: date(row.secret_rotated_at),
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

const toDelivery = (row: DeliveryRow): WebhookDelivery => ({
  id: row.id,
  seq: row.seq,
  endpointId: row.endpoint_id,
  eventId: row.event_id,
  eventType: row.event_type,
  occurredAt: new Date(row.occurred_at),
  payload: JSON.stringify(row.data),
  status: row.status,
  attempts: row.attempts,
  nextAttemptAt: row.status === WebhookDeliveryStatus.PENDING ? date(row.next_attempt_at) : null,
  lastAttemptAt: date(row.last_attempt_at),
  lastStatusCode: row.last_status_code,
  lastError: row.last_error,
  deliveredAt: date(row.delivered_at),
  replayOf: row.replay_of,
  createdAt: new Date(row.created_at),
});
