import { Migration } from '@mikro-orm/migrations';

/** Message templates per organisation; automatic replies (system messages) with opening hours. */
export class Migration20261123220000TemplatesAndAutoReplies extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table message_template (
        organisation_id uuid not null references organisation (id),
        id uuid not null default gen_random_uuid(),
        name text not null,
        body text not null,
        created_by_team_member_id uuid,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (organisation_id, id),
        unique (organisation_id, name),
        foreign key (organisation_id, created_by_team_member_id) references team_member (organisation_id, id)
      );

      -- System messages (automatic replies) have no author.
      alter table message add column system boolean not null default false;
      alter table message drop constraint message_check;
      alter table message add constraint message_author_check
        check (case when system then author_team_member_id is null and author_patient_id is null
                    else (author_team_member_id is null) <> (author_patient_id is null) end);

      alter table channel add column last_auto_reply_at timestamptz;

      alter table messaging_settings
        add column auto_reply_new_conversation text,
        add column auto_reply_outside_hours text,
        add column auto_reply_period_hours integer not null default 24,
        add column opening_hours jsonb not null default '[]',
        add column time_zone text not null default 'UTC';
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      alter table messaging_settings drop column auto_reply_new_conversation, drop column auto_reply_outside_hours,
        drop column auto_reply_period_hours, drop column opening_hours, drop column time_zone;
      alter table channel drop column last_auto_reply_at;
      alter table message drop constraint message_author_check;
      alter table message add constraint message_check check ((author_team_member_id is null) <> (author_patient_id is null));
      alter table message drop column system;
      drop table message_template;
    `);
  }
}
