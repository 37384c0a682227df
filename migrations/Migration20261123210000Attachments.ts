import { Migration } from '@mikro-orm/migrations';

/** Files attached to messages (and patients' avatars): metadata here, bytes in the file store. */
export class Migration20261123210000Attachments extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table attachment (
        organisation_id uuid not null references organisation (id),
        id uuid not null default gen_random_uuid(),
        uploaded_by_team_member_id uuid,
        uploaded_by_patient_id uuid,
        purpose text not null default 'MESSAGE' check (purpose in ('MESSAGE', 'AVATAR')),
        file_name text not null,
        declared_type text not null,
        declared_bytes bigint not null check (declared_bytes > 0),
        -- Set once the bytes arrived and were checked: the type their content shows, their size.
        content_type text,
        size_bytes bigint,
        status text not null default 'PENDING' check (status in ('PENDING', 'UPLOADING', 'READY', 'REJECTED', 'DELETED')),
        storage_key text not null,
        message_id uuid,
        created_at timestamptz not null default now(),
        uploaded_at timestamptz,
        primary key (organisation_id, id),
        foreign key (organisation_id, uploaded_by_team_member_id) references team_member (organisation_id, id),
        foreign key (organisation_id, uploaded_by_patient_id) references patient (organisation_id, id),
        foreign key (organisation_id, message_id) references message (organisation_id, id),
        check ((uploaded_by_team_member_id is null) <> (uploaded_by_patient_id is null)),
        check (status <> 'READY' or (content_type is not null and size_bytes is not null))
      );
      create index attachment_message_idx on attachment (organisation_id, message_id) where message_id is not null;

      alter table patient add column avatar_attachment_id uuid,
        add foreign key (organisation_id, avatar_attachment_id) references attachment (organisation_id, id);
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      alter table patient drop column avatar_attachment_id;
      drop table attachment;
    `);
  }
}
