import { Migration } from '@mikro-orm/migrations';

/**
 * Messaging settings per organisation, patient categories, conversations (reply switch, closing),
 * unstaffed patient channels, guardian memberships, per-member mute, and messages written on a
 * dependant's behalf.
 */
export class Migration20261123190000ConversationsAndSettings extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table messaging_settings (
        organisation_id uuid primary key references organisation (id),
        staff_can_start_conversations boolean not null default true,
        all_staff_can_start boolean not null default true,
        conversation_starter_ids uuid[] not null default '{}',
        patients_can_start_conversations boolean not null default false,
        all_staff_respond boolean not null default true,
        responder_ids uuid[] not null default '{}',
        new_patient_message_role text not null default 'Appointment Reminder Admin',
        patient_can_reply_default boolean not null default true,
        patient_uploads_allowed boolean not null default false,
        patient_upload_types text[] not null default '{application/pdf,image/jpeg,image/png}',
        messaging_for_all_categories boolean not null default true,
        messaging_categories text[] not null default '{}',
        patient_email_on_staff_reply boolean not null default true,
        updated_at timestamptz not null default now(),
        updated_by_team_member_id uuid,
        foreign key (organisation_id, updated_by_team_member_id) references team_member (organisation_id, id)
      );

      alter table patient add column category text;

      alter table channel
        add column patient_can_reply boolean not null default true,
        add column closed_at timestamptz,
        add column closed_by_team_member_id uuid,
        -- Millisecond precision: the unstaffedChannels cursor carries it exactly.
        add column unstaffed_since timestamptz(3),
        add foreign key (organisation_id, closed_by_team_member_id) references team_member (organisation_id, id);
      create index channel_unstaffed_idx on channel (organisation_id, unstaffed_since, id) where unstaffed_since is not null;
      create index channel_by_patient_idx on channel (organisation_id, patient_id) where patient_id is not null;

      alter table channel_member
        add column guardian_of_patient_id uuid,
        add column muted_at timestamptz,
        add column muted_until timestamptz,
        add foreign key (organisation_id, guardian_of_patient_id) references patient (organisation_id, id),
        add check (guardian_of_patient_id is null or patient_id is not null);
      create index channel_member_guardian_idx on channel_member (organisation_id, guardian_of_patient_id, patient_id)
        where guardian_of_patient_id is not null and left_at is null;

      alter table message add column on_behalf_of_patient_id uuid,
        add foreign key (organisation_id, on_behalf_of_patient_id) references patient (organisation_id, id);
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      alter table message drop column on_behalf_of_patient_id;
      drop index channel_member_guardian_idx;
      alter table channel_member drop column guardian_of_patient_id, drop column muted_at, drop column muted_until;
      drop index channel_by_patient_idx;
      drop index channel_unstaffed_idx;
      alter table channel drop column patient_can_reply, drop column closed_at, drop column closed_by_team_member_id, drop column unstaffed_since;
      alter table patient drop column category;
      drop table messaging_settings;
    `);
  }
}
