import { Migration } from '@mikro-orm/migrations';

/**
 * Organisations, their people, patient channels, messages and the per-channel event log.
 * Every tenant-owned table leads with organisation_id (primary keys, indexes and composite
 * foreign keys) so row-level security or sharding by organisation can be added later.
 */
export class Migration20261123090000Foundation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table organisation (
        id uuid primary key,
        slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
        name text not null,
        created_at timestamptz not null default now()
      );

      create table team_member (
        organisation_id uuid not null references organisation (id),
        id uuid not null,
        external_id text not null,
        name text not null,
        email text,
        roles text[] not null default '{}',
        permissions text[] not null default '{}',
        archived_at timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (organisation_id, id),
        unique (organisation_id, external_id)
      );

      create table patient (
        organisation_id uuid not null references organisation (id),
        id uuid not null,
        external_id text not null,
        name text not null,
        display_name text,
        email text,
        phone text,
        portal_access boolean not null default true,
        messaging_enabled boolean not null default true,
        allocation_clinician_id uuid,
        archived_at timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (organisation_id, id),
        unique (organisation_id, external_id),
        foreign key (organisation_id, allocation_clinician_id) references team_member (organisation_id, id)
      );

      create table patient_guardian (
        organisation_id uuid not null,
        guardian_patient_id uuid not null,
        dependant_patient_id uuid not null,
        created_at timestamptz not null default now(),
        primary key (organisation_id, guardian_patient_id, dependant_patient_id),
        foreign key (organisation_id, guardian_patient_id) references patient (organisation_id, id),
        foreign key (organisation_id, dependant_patient_id) references patient (organisation_id, id),
        check (guardian_patient_id <> dependant_patient_id)
      );
      create index patient_guardian_dependant_idx on patient_guardian (organisation_id, dependant_patient_id);

      create table channel (
        organisation_id uuid not null references organisation (id),
        id uuid not null,
        kind text not null check (kind in ('CARE_TEAM', 'SERVICE_TEAM', 'STAFF', 'GROUP', 'DIRECT', 'CONVERSATION')),
        patient_id uuid,
        title text,
        status text not null default 'ACTIVE' check (status in ('ACTIVE', 'CLOSED')),
        last_seq bigint not null default 0,
        -- Millisecond precision: list cursors carry it exactly as JavaScript dates do.
        last_activity_at timestamptz(3) not null default now(),
        created_by_team_member_id uuid,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (organisation_id, id),
        foreign key (organisation_id, patient_id) references patient (organisation_id, id),
        foreign key (organisation_id, created_by_team_member_id) references team_member (organisation_id, id),
        check ((kind in ('CARE_TEAM', 'SERVICE_TEAM', 'STAFF', 'CONVERSATION')) = (patient_id is not null))
      );
      -- One care-team, service-team and staff channel per patient: activation is idempotent.
      create unique index channel_patient_kind_uq on channel (organisation_id, patient_id, kind)
        where kind in ('CARE_TEAM', 'SERVICE_TEAM', 'STAFF');
      create index channel_activity_idx on channel (organisation_id, last_activity_at desc, id);

      create table channel_member (
        organisation_id uuid not null,
        id uuid not null,
        channel_id uuid not null,
        team_member_id uuid,
        patient_id uuid,
        joined_at timestamptz(3) not null default now(),
        archived_at timestamptz,
        last_read_seq bigint not null default 0,
        primary key (organisation_id, id),
        foreign key (organisation_id, channel_id) references channel (organisation_id, id),
        foreign key (organisation_id, team_member_id) references team_member (organisation_id, id),
        foreign key (organisation_id, patient_id) references patient (organisation_id, id),
        check ((team_member_id is null) <> (patient_id is null))
      );
      create unique index channel_member_team_member_uq on channel_member (organisation_id, channel_id, team_member_id)
        where team_member_id is not null;
      create unique index channel_member_patient_uq on channel_member (organisation_id, channel_id, patient_id)
        where patient_id is not null;
      create index channel_member_by_team_member_idx on channel_member (organisation_id, team_member_id) where team_member_id is not null;
      create index channel_member_by_patient_idx on channel_member (organisation_id, patient_id) where patient_id is not null;

      create table message (
        organisation_id uuid not null,
        id uuid not null,
        channel_id uuid not null,
        seq bigint not null,
        author_team_member_id uuid,
        author_patient_id uuid,
        body text not null,
        created_at timestamptz not null default now(),
        primary key (organisation_id, id),
        unique (organisation_id, channel_id, seq),
        foreign key (organisation_id, channel_id) references channel (organisation_id, id),
        foreign key (organisation_id, author_team_member_id) references team_member (organisation_id, id),
        foreign key (organisation_id, author_patient_id) references patient (organisation_id, id),
        check ((author_team_member_id is null) <> (author_patient_id is null))
      );

      -- The per-channel append-only event log: seq is gapless per channel, assigned in the
      -- transaction that makes the change (channel.last_seq is the counter, its row lock the order).
      create table channel_event (
        organisation_id uuid not null,
        channel_id uuid not null,
        seq bigint not null,
        type text not null,
        message_id uuid,
        member_id uuid,
        actor_team_member_id uuid,
        actor_patient_id uuid,
        created_at timestamptz not null default now(),
        primary key (organisation_id, channel_id, seq),
        foreign key (organisation_id, channel_id) references channel (organisation_id, id),
        foreign key (organisation_id, message_id) references message (organisation_id, id)
      );
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      drop table channel_event;
      drop table message; drop table channel_member; drop table channel;
      drop table patient_guardian; drop table patient; drop table team_member; drop table organisation;
    `);
  }
}
