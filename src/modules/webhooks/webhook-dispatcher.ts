import { randomUUID } from 'node:crypto';
import { PollingLoop } from '../../common/polling-loop';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import type { EventBus } from '../../realtime/bus';
import type { Metrics } from '../../telemetry/metrics';
import { scheduleRepeating } from '../../common/schedule';
import { withoutDetails } from '../notifications/delivery';
import { permissionFor } from '../../policy/permissions';
import { parseNetworks, type DestinationRules } from './destination-wall';
import { eventOfLogged, eventsOfChannelEvent, wireType, WebhookEventType, type LoggedChannelEvent, type LoggedWebhookEvent } from './webhook-events';
import { SecretBox, signatureHeader } from './webhook-secrets';
import { postWebhook, type SendOutcome } from './webhook-sender';

/** Channel-log positions turned into deliveries per organisation and pass. */
const FEED_POSITIONS = 500;
/** Endpoints leased, and sent to side by side, per pass; deliveries sent to one endpoint per lease. */
const ENDPOINTS_PER_PASS = 16;
const DELIVERIES_PER_LEASE = 50;
/** Longer than one attempt can take; renewed after each. */
const LEASE = "interval '2 minutes'";
const MAX_BACKOFF_MS = 6 * 3_600_000;

interface HeadDelivery {
  id: string;
  event_id: string;
  event_type: WebhookEventType;
  occurred_at: string | Date;
  data: Record<string, unknown>;
  attempts: number;
  due: boolean;
  /** The endpoint as it is now. */
  url: string;
  include_content: boolean;
  secret_sealed: string;
  /** While the rotation overlap lasts. */
  previous_secret_sealed: string | null;
}

/**
 * Delivers webhooks, in any number of processes at once:
 * - the feeder turns each organisation's channel event log (written in the transaction of each
 *   change, positions in commit order) into one delivery per subscribed endpoint, in log order,
 *   advancing the organisation's feed position in the same transaction;
 * - the sender leases endpoints with a delivery due and sends each endpoint's deliveries one at a
 *   time in order: a failed delivery is retried with exponential backoff and the ones behind it
 *   wait, until it is dead after the last attempt. An endpoint failing for long is turned off and
 *   the messaging admins are told.
 */
export class WebhookDispatcher {
  private readonly loop: PollingLoop;
  private stopHousekeeping?: () => void;
  private stopKicks?: () => void;
  private readonly rules: DestinationRules;
  private readonly secrets: SecretBox;
  /** Organisations with webhooks (as of the last pass): only their events wake the dispatcher early. */
  private fedOrganisations = new Set<string>();

  constructor(
    private readonly orm: MikroORM,
    private readonly config: Config['webhooks'],
    serverSecret: string,
    private readonly logger: Logger,
    private readonly bus?: EventBus,
    private readonly metrics?: Metrics,
  ) {
    this.loop = new PollingLoop(() => this.pass(), config.pollMs, (error) => this.logger.warn({ error: withoutDetails(error) }, 'webhook pass failed'));
    this.rules = destinationRules(config);
    this.secrets = new SecretBox(serverSecret);
  }

  start(): void {
    this.loop.start();
    // New events: deliver soon rather than at the next poll.
    this.stopKicks = this.bus?.subscribe((notice) => {
      if (notice.kind === 'events' && this.fedOrganisations.has(notice.organisationId)) this.kick();
    });
    this.stopHousekeeping = scheduleRepeating(() => {
      this.orm.em
        .fork()
        .execute(`delete from webhook_delivery where status <> 'PENDING' and created_at < now() - make_interval(days => ?)`, [this.config.keepDays])
        .catch((error) => this.logger.warn({ error: withoutDetails(error) }, 'webhook delivery clean-up failed'));
    });
  }

  kick(): void {
    this.loop.kick();
  }

  async stop(): Promise<void> {
    this.stopKicks?.();
    this.stopHousekeeping?.();
    await this.loop.stop();
  }

  /** One pass: feed, then send. True when there is more to do at once. */
  async pass(): Promise<boolean> {
    const fed = await this.feed();
    const sent = await this.sendDue();
    return fed || sent === ENDPOINTS_PER_PASS;
  }

  /** Turns new events into deliveries for every organisation behind; true if one has more. */
  async feed(): Promise<boolean> {
    const fed = await this.orm.em.fork().execute<Array<{ organisation_id: string; last_position: string; behind: boolean }>>(
      `select f.organisation_id, p.last_position, p.last_position > f.last_position as behind
         from webhook_feed f join event_position p on p.organisation_id = f.organisation_id`,
    );
    this.fedOrganisations = new Set(fed.map((row) => row.organisation_id));
    let more = false;
    for (const { organisation_id: organisationId, last_position: latest } of fed.filter((row) => row.behind)) {
      if (this.loop.stopped) break;
      try {
        more = (await this.orm.em.fork().transactional((em) => this.feedOrganisation(em, organisationId, Number(latest)))) || more;
      } catch (error) {
        // One organisation's trouble does not hold up the others (it is tried again next pass).
        this.logger.warn({ organisationId, error: withoutDetails(error) }, 'webhook feed failed');
      }
    }
    return more;
  }

  private async feedOrganisation(em: EntityManager, organisationId: string, latest: number): Promise<boolean> {
    // One process feeds an organisation at a time; the others skip it.
    const [feed] = await em.execute<Array<{ last_position: string }>>('select last_position from webhook_feed where organisation_id = ? for update skip locked', [organisationId]);
    if (!feed) return false;
    const from = Number(feed.last_position);
    // Every position up to `latest` has committed (a position is taken under a row lock held to commit).
    const upTo = Math.min(latest, from + FEED_POSITIONS);
    if (upTo <= from) return false;
    const endpoints = await em.execute<Array<{ id: string; event_types: WebhookEventType[]; from_position: string }>>(
      'select id, event_types, from_position from webhook_endpoint where organisation_id = ? and enabled order by created_at, id',
      [organisationId],
    );
    if (endpoints.length > 0) {
      const [channelEvents, otherEvents] = await Promise.all([
        em.execute<Array<LoggedChannelEvent & { position: string }>>(
          `select e.position, e.organisation_id, e.channel_id, e.seq::text as seq, e.type, e.message_id, e.actor_team_member_id, e.actor_patient_id,
                  e.subject_team_member_id, e.subject_patient_id, e.staff_only, e.created_at, c.kind as channel_kind, c.patient_id
             from channel_event e join channel c on c.organisation_id = e.organisation_id and c.id = e.channel_id
            where e.organisation_id = ? and e.position > ? and e.position <= ?
            order by e.position, e.created_at, e.channel_id, e.seq`,
          [organisationId, from, upTo],
        ),
        em.execute<LoggedWebhookEvent[]>(
          'select position, event_id, event_type, occurred_at, data from webhook_event where organisation_id = ? and position > ? and position <= ? order by position, event_id',
          [organisationId, from, upTo],
        ),
      ]);
      // Commit order: by position (a transaction's events share one), channel events first.
      const events = [
        ...channelEvents.flatMap((row) => eventsOfChannelEvent(row).map((event) => ({ position: Number(row.position), event }))),
        ...otherEvents.map((row) => ({ position: Number(row.position), event: eventOfLogged(row) })),
      ].sort((a, b) => a.position - b.position);
      const rows = events.flatMap(({ position, event }) =>
        endpoints
          .filter((endpoint) => endpoint.event_types.includes(event.type) && position > Number(endpoint.from_position))
          .map((endpoint) => [endpoint.id, event.id, event.type, event.occurredAt.toISOString(), JSON.stringify(event.data)]),
      );
      if (rows.length > 0) {
        const column = (index: number) => rows.map((row) => row[index]);
        await em.execute(
          `insert into webhook_delivery (organisation_id, endpoint_id, event_id, event_type, occurred_at, data)
           select ?, d.endpoint_id, d.event_id, d.event_type, d.occurred_at, d.data
             from unnest(?::uuid[], ?::text[], ?::text[], ?::timestamptz[], ?::jsonb[]) with ordinality as d(endpoint_id, event_id, event_type, occurred_at, data, n)
            order by d.n
           on conflict (organisation_id, endpoint_id, event_id) where replay_of is null do nothing`,
          [organisationId, ...[0, 1, 2, 3, 4].map((index) => pgArray(column(index)))],
        );
      }
    }
    await em.execute('delete from webhook_event where organisation_id = ? and position <= ?', [organisationId, upTo]);
    await em.execute('update webhook_feed set last_position = ? where organisation_id = ?', [upTo, organisationId]);
    return upTo < latest;
  }

  /** Leases endpoints whose next delivery is due (the longest waiting first) and sends to them side by side; returns how many were leased. */
  async sendDue(): Promise<number> {
    const token = randomUUID();
    const leased = await this.orm.em.fork().execute<Array<{ organisation_id: string; id: string }>>(
      `update webhook_endpoint e set lease_token = ?, lease_until = clock_timestamp() + ${LEASE}
        where (e.organisation_id, e.id) in (
          select w.organisation_id, w.id from webhook_endpoint w
           cross join lateral (select d.next_attempt_at from webhook_delivery d
                                where d.organisation_id = w.organisation_id and d.endpoint_id = w.id and d.status = 'PENDING'
                                order by d.seq limit 1) head
           where w.enabled and (w.lease_until is null or w.lease_until < clock_timestamp()) and head.next_attempt_at <= clock_timestamp()
           order by head.next_attempt_at
           limit ${ENDPOINTS_PER_PASS} for update of w skip locked)
        returning e.organisation_id, e.id`,
      [token],
    );
    await Promise.all(leased.map((endpoint) => this.drain(endpoint, token).catch((error) => this.logger.warn({ endpointId: endpoint.id, error: withoutDetails(error) }, 'webhook sending failed'))));
    return leased.length;
  }

  /**
   * Sends an endpoint's due deliveries in order while they succeed (or die), then gives up its
   * lease. The endpoint is read again before each (its URL, content setting, secrets and being on
   * may change meanwhile); once the lease is lost, nothing more is sent or recorded.
   */
  private async drain(endpoint: { organisation_id: string; id: string }, token: string): Promise<void> {
    const em = this.orm.em.fork();
    try {
      for (let sent = 0; sent < DELIVERIES_PER_LEASE && !this.loop.stopped; sent++) {
        const [head] = await em.execute<HeadDelivery[]>(
          `select d.id, d.event_id, d.event_type, d.occurred_at, d.data, d.attempts, d.next_attempt_at <= clock_timestamp() as due,
                  e.url, e.include_content, e.secret_sealed, case when e.previous_secret_expires_at > now() then e.previous_secret_sealed end as previous_secret_sealed
             from webhook_endpoint e
             join lateral (select * from webhook_delivery d where d.organisation_id = e.organisation_id and d.endpoint_id = e.id and d.status = 'PENDING'
                            order by d.seq limit 1) d on true
            where e.organisation_id = ? and e.id = ? and e.lease_token = ? and e.enabled`,
          [endpoint.organisation_id, endpoint.id, token],
        );
        if (!head?.due) return;
        const outcome = await this.attempt(em, endpoint.organisation_id, head);
        if (!(await this.record(em, endpoint, token, head, outcome))) return;
      }
    } finally {
      await em.execute('update webhook_endpoint set lease_token = null, lease_until = null where organisation_id = ? and id = ? and lease_token = ?', [endpoint.organisation_id, endpoint.id, token]);
    }
  }

  /** One attempt; a fault of ours (a secret that cannot be opened, a failed read) is a failed attempt too, retried with backoff. */
  private async attempt(em: EntityManager, organisationId: string, head: HeadDelivery): Promise<SendOutcome> {
    try {
      const secrets = [head.secret_sealed, head.previous_secret_sealed].filter((sealed): sealed is string => sealed !== null).map((sealed) => this.secrets.open(sealed));
      const content = head.include_content ? await contentOf(em, organisationId, head) : undefined;
      const body = JSON.stringify({ type: wireType(head.event_type), timestamp: new Date(head.occurred_at).toISOString(), data: content ? { ...head.data, content } : head.data });
      const now = new Date();
      return await postWebhook(
        head.url,
        body,
        { 'webhook-id': head.event_id, 'webhook-timestamp': Math.floor(now.getTime() / 1000).toString(), 'webhook-signature': signatureHeader(secrets, head.event_id, now, body) },
        this.rules,
        this.config,
      );
    } catch (error) {
      this.logger.error({ deliveryId: head.id, error: withoutDetails(error) }, 'webhook attempt failed before sending');
      return { delivered: false, statusCode: null, error: 'INTERNAL' };
    }
  }

  /** Records an attempt's outcome and renews the lease; whether to go on to the next delivery (not once the lease is lost). */
  private async record(em: EntityManager, endpoint: { organisation_id: string; id: string }, token: string, head: HeadDelivery, outcome: SendOutcome): Promise<boolean> {
    const leaseHeld = 'exists (select 1 from webhook_endpoint l where l.organisation_id = ? and l.id = ? and l.lease_token = ?)';
    if (outcome.delivered) {
      this.metrics?.webhooks.inc({ outcome: 'DELIVERED', error: '' });
      const renewed = await em.execute<unknown[]>(
        `with delivered as (
           update webhook_delivery set status = 'DELIVERED', attempts = attempts + 1, last_attempt_at = now(), last_status_code = ?, last_error = null, delivered_at = now()
            where organisation_id = ? and id = ? and status = 'PENDING' and ${leaseHeld})
         update webhook_endpoint set failure_streak = 0, failing_since = null, lease_until = clock_timestamp() + ${LEASE}
          where organisation_id = ? and id = ? and lease_token = ? returning 1`,
        [outcome.statusCode, endpoint.organisation_id, head.id, endpoint.organisation_id, endpoint.id, token, endpoint.organisation_id, endpoint.id, token],
      );
      return renewed.length > 0;
    }
    const attempts = head.attempts + 1;
    const dead = attempts >= this.config.maxAttempts;
    this.metrics?.webhooks.inc({ outcome: dead ? 'DEAD' : 'RETRY', error: outcome.error ?? '' });
    this.logger.warn({ endpointId: endpoint.id, deliveryId: head.id, attempts, error: outcome.error, statusCode: outcome.statusCode }, dead ? 'webhook delivery dead' : 'webhook delivery failed; will retry');
    const turnOff = 'streak.was_enabled and streak.failures >= ? and streak.since <= now() - make_interval(secs => ?)';
    const threshold = [this.config.disableAfterFailures, this.config.disableAfterMs / 1000];
    const [state] = await em.execute<Array<{ turned_off: boolean }>>(
      `with failed as (
         update webhook_delivery set attempts = ?, last_attempt_at = now(), last_status_code = ?, last_error = ?,
                status = case when ? then 'DEAD' else 'PENDING' end, next_attempt_at = clock_timestamp() + make_interval(secs => ?)
          where organisation_id = ? and id = ? and status = 'PENDING' and ${leaseHeld}),
       streak as (
         select failure_streak + 1 as failures, coalesce(failing_since, now()) as since, enabled as was_enabled
           from webhook_endpoint where organisation_id = ? and id = ?)
       update webhook_endpoint e set failure_streak = streak.failures, failing_since = streak.since, lease_until = clock_timestamp() + ${LEASE},
              enabled = e.enabled and not (${turnOff}),
              disabled_reason = case when ${turnOff} then 'FAILING' else e.disabled_reason end,
              disabled_at = case when ${turnOff} then now() else e.disabled_at end
         from streak
        where e.organisation_id = ? and e.id = ? and e.lease_token = ?
       returning streak.was_enabled and not e.enabled as turned_off`,
      [
        attempts,
        outcome.statusCode,
        outcome.error,
        dead,
        this.backoffMs(attempts) / 1000,
        endpoint.organisation_id,
        head.id,
        endpoint.organisation_id,
        endpoint.id,
        token,
        endpoint.organisation_id,
        endpoint.id,
        ...threshold,
        ...threshold,
        ...threshold,
        endpoint.organisation_id,
        endpoint.id,
        token,
      ],
    );
    if (!state) return false;
    if (state.turned_off) {
      this.logger.warn({ endpointId: endpoint.id }, 'webhook endpoint turned off after failing for long');
      await tellAdmins(em, endpoint.organisation_id);
      return false;
    }
    return dead;
  }

  private backoffMs(attempts: number): number {
    const base = Math.min(this.config.retryBaseMs * 4 ** (attempts - 1), MAX_BACKOFF_MS);
    return base * (0.8 + Math.random() * 0.4);
  }
}

export const destinationRules = (config: Config['webhooks']): DestinationRules => ({ httpsOnly: config.httpsOnly, allowedNetworks: parseNetworks(config.allowedNetworks) });

/** A PostgreSQL array literal of text values (each quoted), for `?::<type>[]`. */
const pgArray = (values: readonly string[]) => `{${values.map((value) => `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}`;

/**
 * What an endpoint that opted in to content gets besides ids, read when sent: a message's text as
 * it is now (none once deleted) and its author's name; a conversation's title.
 */
async function contentOf(em: EntityManager, organisationId: string, delivery: HeadDelivery): Promise<Record<string, unknown> | undefined> {
  const { messageId, channelId } = delivery.data as { messageId?: string; channelId?: string };
  if (messageId) {
    const [message] = await em.execute<Array<{ body: string | null; author_name: string | null }>>(
      `select case when m.deleted_at is null then m.body end as body, coalesce(tm.name, p.name, m.remote_author_name) as author_name
         from message m
         left join team_member tm on tm.organisation_id = m.organisation_id and tm.id = m.author_team_member_id
         left join patient p on p.organisation_id = m.organisation_id and p.id = m.author_patient_id
        where m.organisation_id = ? and m.id = ?`,
      [organisationId, messageId],
    );
    return message ? { body: message.body, authorName: message.author_name } : undefined;
  }
  if (channelId) {
    const [channel] = await em.execute<Array<{ title: string | null }>>('select title from channel where organisation_id = ? and id = ?', [organisationId, channelId]);
    return channel ? { title: channel.title } : undefined;
  }
  return undefined;
}

/** An email to each messaging admin (no content: the endpoint's organisation and a link to the settings). */
async function tellAdmins(em: EntityManager, organisationId: string): Promise<void> {
  await em.execute(
    `insert into notification (organisation_id, kind, transport, team_member_id, due_at)
     select organisation_id, 'WEBHOOK_DISABLED', 'EMAIL', id, now() from team_member
      where organisation_id = ? and archived_at is null and ? = any(permissions) and email is not null
     on conflict do nothing`,
    [organisationId, permissionFor('manageWebhooks')],
  );
}
