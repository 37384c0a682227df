import { Migration } from '@mikro-orm/migrations';

/** Threads, internal notes, edits and deletes with their history, reactions, and idempotent sends. */
export class Migration20261123200000MessageFeatures extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table message
        add column parent_message_id uuid,
        -- Replies patients can see, and internal (staff-only) replies, counted apart so that
        -- nothing about an internal note reaches a patient.
        add column reply_count integer not null default 0,
        add column last_reply_at timestamptz,
        add column internal_reply_count integer not null default 0,
        add column last_internal_reply_at timestamptz,
        add column internal boolean not null default false,
        add column edited_at timestamptz,
        add column deleted_at timestamptz,
        add column deleted_by_team_member_id uuid,
        add column deleted_by_patient_id uuid,
        add column idempotency_key text,
        add column request_hash text,
        add foreign key (organisation_id, parent_message_id) references message (organisation_id, id),
        add foreign key (organisation_id, deleted_by_team_member_id) references team_member (organisation_id, id),
        add foreign key (organisation_id, deleted_by_patient_id) references patient (organisation_id, id);
      -- Full-text search (messageSearch): English stemming, so "results" finds "result". An
      -- expression index rather than a stored column: message rows stay as narrow as they were.
      create index message_search_idx on message using gin (to_tsvector('english', body));
      create index message_thread_idx on message (organisation_id, parent_message_id, seq) where parent_message_id is not null;
      -- One message per sender and key: a retried send finds the original.
      create unique index message_idempotency_staff_uq on message (organisation_id, author_team_member_id, idempotency_key)
        where idempotency_key is not null and author_team_member_id is not null;
      create unique index message_idempotency_patient_uq on message (organisation_id, author_patient_id, idempotency_key)
        where idempotency_key is not null and author_patient_id is not null;

      -- Every earlier body of an edited or deleted message, oldest first.
      create table message_revision (
        organisation_id uuid not null,
        id uuid not null default gen_random_uuid(),
        message_id uuid not null,
        body text not null,
        replaced_at timestamptz not null default now(),
        replaced_by_team_member_id uuid,
        replaced_by_patient_id uuid,
        primary key (organisation_id, id),
        foreign key (organisation_id, message_id) references message (organisation_id, id),
        foreign key (organisation_id, replaced_by_team_member_id) references team_member (organisation_id, id),
        foreign key (organisation_id, replaced_by_patient_id) references patient (organisation_id, id)
      );
      create index message_revision_message_idx on message_revision (organisation_id, message_id, replaced_at);

      create table message_reaction (
        organisation_id uuid not null,
        message_id uuid not null,
        emoji text not null,
        team_member_id uuid,
        patient_id uuid,
        created_at timestamptz not null default now(),
        foreign key (organisation_id, message_id) references message (organisation_id, id),
        foreign key (organisation_id, team_member_id) references team_member (organisation_id, id),
        foreign key (organisation_id, patient_id) references patient (organisation_id, id),
        check ((team_member_id is null) <> (patient_id is null))
      );
      create unique index message_reaction_staff_uq on message_reaction (organisation_id, message_id, emoji, team_member_id) where team_member_id is not null;
      create unique index message_reaction_patient_uq on message_reaction (organisation_id, message_id, emoji, patient_id) where patient_id is not null;
      create index message_reaction_message_idx on message_reaction (organisation_id, message_id);
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      drop table message_reaction;
      drop table message_revision;
      drop index message_search_idx;
      drop index message_idempotency_patient_uq; drop index message_idempotency_staff_uq; drop index message_thread_idx;
      alter table message drop column parent_message_id, drop column reply_count, drop column last_reply_at, drop column internal_reply_count, drop column last_internal_reply_at, drop column internal,
        drop column edited_at, drop column deleted_at, drop column deleted_by_team_member_id, drop column deleted_by_patient_id,
        drop column idempotency_key, drop column request_hash;
    `);
  }
}
