import { Migration } from '@mikro-orm/migrations';

/**
 * Clinic-to-clinic conversations. Every row stays in one organisation: each clinic has its own
 * copy of a conversation (a CLINIC channel), and what crosses is an envelope written to the
 * sender's outbox in the sender's transaction and applied by the receiver at most once (its inbox
 * remembers every envelope it applied), the way mail crosses between servers.
 */
export class Migration20261202210000ClinicConversations extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table messaging_settings add column clinics_can_start_conversations boolean not null default false;

      alter table channel drop constraint channel_kind_check;
      alter table channel add constraint channel_kind_check check (kind in ('CARE_TEAM', 'SERVICE_TEAM', 'STAFF', 'GROUP', 'DIRECT', 'CONVERSATION', 'CLINIC'));
      -- A CLINIC channel may be about one of the organisation's patients (the starter's copy), or not.
      alter table channel drop constraint channel_check;
      alter table channel add constraint channel_patient_check check (kind = 'CLINIC' or (kind in ('CARE_TEAM', 'SERVICE_TEAM', 'STAFF', 'CONVERSATION')) = (patient_id is not null));
      alter table channel
        -- CLINIC channels: the other clinic (its slug and name as it gave them), and the conversation's
        -- id shared by both copies (the starter's choice; never a row id of either side).
        add column remote_clinic_slug text,
        add column remote_clinic_name text,
        add column remote_thread_id uuid,
        -- The other clinic started it: this clinic's responders answer it.
        add column started_by_clinic boolean not null default false,
        -- CLINIC channels about a patient: the patient's name as the starting clinic shared it (the receiving copy; the starter's has patient_id).
        add column remote_patient_name text,
        add constraint channel_clinic_check check ((kind = 'CLINIC') = (remote_clinic_slug is not null and remote_thread_id is not null));
      create unique index channel_remote_thread_uq on channel (organisation_id, remote_clinic_slug, remote_thread_id) where remote_thread_id is not null;

      -- A message from the other clinic: no author here, its author's name and clinic as they sent them.
      alter table message add column remote_author_name text, add column remote_clinic_name text;
      alter table message drop constraint message_author_check;
      alter table message add constraint message_author_check
        check (case when system or remote_author_name is not null then author_team_member_id is null and author_patient_id is null
                    else (author_team_member_id is null) <> (author_patient_id is null) end);

      create table clinic_outbox (
        organisation_id uuid not null references organisation (id),
        id uuid not null default gen_random_uuid(),
        to_slug text not null,
        kind text not null,
        -- The envelope as it travels (ids, names and text; never a row id of the sender but the envelope's own).
        envelope jsonb not null,
        created_at timestamptz not null default clock_timestamp(),
        attempts integer not null default 0,
        next_attempt_at timestamptz not null default clock_timestamp(),
        delivered_at timestamptz,
        -- Refused by the receiver for good (it does not accept it): kept for inspection, not retried.
        refused_at timestamptz,
        last_error text,
        primary key (organisation_id, id)
      );
      create index clinic_outbox_pending_idx on clinic_outbox (next_attempt_at, created_at, id) where delivered_at is null and refused_at is null;

      create table clinic_inbox (
        organisation_id uuid not null references organisation (id),
        from_slug text not null,
        envelope_id uuid not null,
        kind text not null,
        received_at timestamptz not null default now(),
        primary key (organisation_id, from_slug, envelope_id)
      );

      alter table notification drop constraint notification_kind_check;
      alter table notification add constraint notification_kind_check check (kind in ('MESSAGE', 'NEW_PATIENT_MESSAGE', 'NEW_CLINIC_MESSAGE', 'DIGEST'));
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      delete from notification where kind = 'NEW_CLINIC_MESSAGE';
      alter table notification drop constraint notification_kind_check;
      alter table notification add constraint notification_kind_check check (kind in ('MESSAGE', 'NEW_PATIENT_MESSAGE', 'DIGEST'));
      drop table clinic_inbox;
      drop table clinic_outbox;
      delete from message where remote_author_name is not null;
      alter table message drop constraint message_author_check;
      alter table message add constraint message_author_check
        check (case when system then author_team_member_id is null and author_patient_id is null
                    else (author_team_member_id is null) <> (author_patient_id is null) end);
      alter table message drop column remote_author_name, drop column remote_clinic_name;
      delete from channel where kind = 'CLINIC';
      alter table channel drop constraint channel_clinic_check;
      alter table channel drop constraint channel_patient_check;
      alter table channel add constraint channel_check check ((kind in ('CARE_TEAM', 'SERVICE_TEAM', 'STAFF', 'CONVERSATION')) = (patient_id is not null));
      alter table channel drop column remote_clinic_slug, drop column remote_clinic_name, drop column remote_thread_id, drop column started_by_clinic, drop column remote_patient_name;
      alter table channel drop constraint channel_kind_check;
      alter table channel add constraint channel_kind_check check (kind in ('CARE_TEAM', 'SERVICE_TEAM', 'STAFF', 'GROUP', 'DIRECT', 'CONVERSATION'));
      alter table messaging_settings drop column clinics_can_start_conversations;
    `);
  }
}
