import { Migration } from '@mikro-orm/migrations';

/**
 * Signed webhooks: endpoints per organisation, one delivery row per event and endpoint (sent in
 * `seq` order per endpoint), events other than channel events (at positions of the organisation's
 * event log), and each organisation's position in that log up to which events were turned into
 * deliveries.
 */
export class Migration20261203080000Webhooks extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table webhook_endpoint (
        organisation_id uuid not null references organisation (id) on delete cascade,
        id uuid not null default gen_random_uuid(),
        url text not null,
        description text not null default '',
        event_types text[] not null,
        include_content boolean not null default false,
        secret_sealed text not null,
        previous_secret_sealed text,
        previous_secret_expires_at timestamptz,
        secret_rotated_at timestamptz,
        enabled boolean not null default true,
        -- Events at positions up to this one happened before it was registered: not sent to it.
        from_position bigint not null default 0,
        disabled_reason text,
        disabled_at timestamptz,
        failure_streak integer not null default 0,
        failing_since timestamptz,
        lease_token uuid,
        lease_until timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (organisation_id, id)
      );
      create index webhook_endpoint_enabled_idx on webhook_endpoint (organisation_id) where enabled;

      create table webhook_delivery (
        organisation_id uuid not null,
        id uuid not null default gen_random_uuid(),
        seq bigint generated always as identity,
        endpoint_id uuid not null,
        event_id text not null,
        event_type text not null,
        occurred_at timestamptz not null,
        data jsonb not null,
        status text not null default 'PENDING',
        attempts integer not null default 0,
        next_attempt_at timestamptz not null default now(),
        last_attempt_at timestamptz,
        last_status_code integer,
        last_error text,
        delivered_at timestamptz,
        replay_of uuid,
        created_at timestamptz not null default now(),
        primary key (organisation_id, id),
        foreign key (organisation_id, endpoint_id) references webhook_endpoint (organisation_id, id) on delete cascade
      );
      -- An event reaches an endpoint once (replays aside), however often a feed is retried.
      create unique index webhook_delivery_once_idx on webhook_delivery (organisation_id, endpoint_id, event_id) where replay_of is null;
      create index webhook_delivery_head_idx on webhook_delivery (organisation_id, endpoint_id, seq) where status = 'PENDING';
      create index webhook_delivery_log_idx on webhook_delivery (organisation_id, endpoint_id, seq desc);
      create index webhook_delivery_age_idx on webhook_delivery (created_at) where status <> 'PENDING';

      -- Events that are not channel events (a handover, a failed notice), at a position of the
      -- organisation's event log so the feeder sends them in commit order with the channel events.
      create table webhook_event (
        organisation_id uuid not null references organisation (id) on delete cascade,
        position bigint not null,
        event_id text not null,
        event_type text not null,
        occurred_at timestamptz not null,
        data jsonb not null,
        primary key (organisation_id, position, event_id)
      );

      create table webhook_feed (
        organisation_id uuid primary key references organisation (id) on delete cascade,
        last_position bigint not null
      );

      -- Messaging admins are told by email when an endpoint is turned off after failing for long.
      alter table notification drop constraint notification_kind_check;
      alter table notification add constraint notification_kind_check check (kind in ('MESSAGE', 'NEW_PATIENT_MESSAGE', 'NEW_CLINIC_MESSAGE', 'DIGEST', 'WEBHOOK_DISABLED'));
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      delete from notification where kind = 'WEBHOOK_DISABLED';
      alter table notification drop constraint notification_kind_check;
      alter table notification add constraint notification_kind_check check (kind in ('MESSAGE', 'NEW_PATIENT_MESSAGE', 'NEW_CLINIC_MESSAGE', 'DIGEST'));
      drop table webhook_feed; drop table webhook_event; drop table webhook_delivery; drop table webhook_endpoint;
    `);
  }
}
