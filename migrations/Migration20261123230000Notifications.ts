import { Migration } from '@mikro-orm/migrations';

/**
 * Notifications: preferences per person, push subscriptions, a transactional outbox of sent
 * messages, the notices planned from it (one row per recipient, transport and message, retried
 * until sent), customised templates, and the organisation's notification settings.
 */
export class Migration20261123230000Notifications extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table notification_preference (
        organisation_id uuid not null references organisation (id),
        id uuid not null default gen_random_uuid(),
        team_member_id uuid,
        patient_id uuid,
        email text not null default 'IMMEDIATE' check (email in ('IMMEDIATE', 'DIGEST', 'OFF')),
        push boolean not null default true,
        sms boolean not null default true,
        -- Null: the organisation's delay for the person's side.
        delay_minutes integer check (delay_minutes between 0 and 1440),
        updated_at timestamptz not null default now(),
        primary key (organisation_id, id),
        check ((team_member_id is null) <> (patient_id is null)),
        unique (organisation_id, team_member_id),
        unique (organisation_id, patient_id),
        foreign key (organisation_id, team_member_id) references team_member (organisation_id, id),
        foreign key (organisation_id, patient_id) references patient (organisation_id, id)
      );

      create table push_subscription (
        organisation_id uuid not null references organisation (id),
        id uuid not null default gen_random_uuid(),
        team_member_id uuid,
        patient_id uuid,
        kind text not null check (kind in ('WEB', 'MOBILE')),
        -- WEB: the push service endpoint; MOBILE: the device token.
        address text not null,
        p256dh text,
        auth text,
        platform text,
        created_at timestamptz not null default now(),
        primary key (organisation_id, id),
        check ((team_member_id is null) <> (patient_id is null)),
        check (kind <> 'WEB' or (p256dh is not null and auth is not null)),
        unique (organisation_id, kind, address),
        foreign key (organisation_id, team_member_id) references team_member (organisation_id, id),
        foreign key (organisation_id, patient_id) references patient (organisation_id, id)
      );
      create index push_subscription_person_idx on push_subscription (organisation_id, team_member_id, patient_id);

      -- Written in the transaction of every sent message; the worker plans notices from it.
      create table notification_outbox (
        organisation_id uuid not null,
        message_id uuid not null,
        -- When it may be planned: at once, later after a failed attempt.
        available_at timestamptz not null default clock_timestamp(),
        -- Failed planning attempts; after a few the entry is left for inspection.
        attempts integer not null default 0,
        primary key (organisation_id, message_id),
        foreign key (organisation_id, message_id) references message (organisation_id, id) on delete cascade
      );
      create index notification_outbox_order_idx on notification_outbox (available_at) where attempts < 5;

      create table notification (
        organisation_id uuid not null references organisation (id),
        id uuid not null default gen_random_uuid(),
        kind text not null check (kind in ('MESSAGE', 'NEW_PATIENT_MESSAGE', 'DIGEST')),
        transport text not null check (transport in ('EMAIL', 'PUSH', 'SMS')),
        team_member_id uuid,
        patient_id uuid,
        channel_id uuid,
        message_id uuid,
        -- SENDING: claimed by a worker until locked_until; a new message then waits in a new notice.
        status text not null default 'PENDING' check (status in ('PENDING', 'SENDING', 'SENT', 'SUPPRESSED', 'FAILED')),
        due_at timestamptz not null,
        attempts integer not null default 0,
        locked_until timestamptz,
        -- Why it was suppressed or failed (a code, never content).
        reason text,
        created_at timestamptz not null default now(),
        sent_at timestamptz,
        primary key (organisation_id, id),
        check ((team_member_id is null) <> (patient_id is null)),
        foreign key (organisation_id, team_member_id) references team_member (organisation_id, id),
        foreign key (organisation_id, patient_id) references patient (organisation_id, id),
        foreign key (organisation_id, channel_id) references channel (organisation_id, id),
        foreign key (organisation_id, message_id) references message (organisation_id, id)
      );
      -- Never twice for one person, message and transport.
      create unique index notification_once_idx on notification (organisation_id, coalesce(team_member_id, patient_id), message_id, transport)
        where message_id is not null;
      -- One waiting notice per person, channel, kind and transport: a burst of messages is one notice.
      create unique index notification_waiting_idx
        on notification (organisation_id, coalesce(team_member_id, patient_id), coalesce(channel_id, '00000000-0000-0000-0000-000000000000'::uuid), kind, transport)
        where status = 'PENDING';
      create index notification_due_idx on notification (due_at) where status = 'PENDING';
      create index notification_sending_idx on notification (locked_until) where status = 'SENDING';
      create index notification_message_idx on notification (organisation_id, message_id);

      create table notification_template (
        organisation_id uuid not null references organisation (id),
        kind text not null,
        subject text not null default '',
        text_body text not null,
        html_body text not null default '',
        updated_at timestamptz not null default now(),
        updated_by_team_member_id uuid,
        primary key (organisation_id, kind),
        foreign key (organisation_id, updated_by_team_member_id) references team_member (organisation_id, id)
      );

      alter table messaging_settings
        add column sms_notifications boolean not null default false,
        add column staff_notification_delay_minutes integer not null default 15,
        add column patient_notification_delay_minutes integer not null default 5,
        add column notification_digest_hour integer not null default 8,
        add column patient_portal_url text,
        add column staff_portal_url text;
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      alter table messaging_settings drop column sms_notifications, drop column staff_notification_delay_minutes,
        drop column patient_notification_delay_minutes, drop column notification_digest_hour,
        drop column patient_portal_url, drop column staff_portal_url;
      drop table notification_template;
      drop table notification;
      drop table notification_outbox;
      drop table push_subscription;
      drop table notification_preference;
    `);
  }
}
