import { Migration } from '@mikro-orm/migrations';

/**
 * Urgency on messages, response targets in the messaging settings, and `response_due`: per
 * patient channel, its oldest patient message that no team member has answered yet, when it is
 * due and how far it has been escalated. Escalation notices are a notification kind of their own.
 */
export class Migration20261203090000Escalation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      -- Checks on the big tables are added NOT VALID: existing rows satisfy them (the default, the narrower
      -- old kind list), new ones are checked, and no scan of every row holds the table's lock meanwhile.
      alter table message add column urgency text not null default 'ROUTINE';
      alter table message add constraint message_urgency_check check (urgency in ('ROUTINE', 'URGENT')) not valid;

      alter table messaging_settings
        add column routine_response_minutes integer check (routine_response_minutes between 1 and 43200),
        add column urgent_response_minutes integer check (urgent_response_minutes between 1 and 43200),
        add column response_time_basis text not null default 'OPENING_HOURS' check (response_time_basis in ('OPENING_HOURS', 'WALL_CLOCK')),
        add column second_escalation_minutes integer check (second_escalation_minutes between 1 and 43200),
        add column patients_can_mark_urgent boolean not null default false;

      create table response_due (
        organisation_id uuid not null references organisation (id),
        channel_id uuid not null,
        -- The oldest patient message not answered yet: what the due time counts from.
        message_id uuid not null,
        message_seq bigint not null,
        waiting_since timestamptz not null,
        urgency text not null check (urgency in ('ROUTINE', 'URGENT')),
        due_at timestamptz not null,
        -- 0: not escalated; 1: the responders were told; 2: the role group too.
        level smallint not null default 0 check (level between 0 and 2),
        -- When the next escalation is due (null: none left).
        next_at timestamptz,
        escalated_at timestamptz,
        primary key (organisation_id, channel_id),
        foreign key (organisation_id, channel_id) references channel (organisation_id, id) on delete cascade,
        foreign key (organisation_id, message_id) references message (organisation_id, id) on delete cascade
      );
      create index response_due_next_idx on response_due (next_at) where next_at is not null;
      create index response_due_order_idx on response_due (organisation_id, due_at, channel_id);

      alter table notification drop constraint notification_kind_check;
      alter table notification add constraint notification_kind_check check (kind in ('MESSAGE', 'NEW_PATIENT_MESSAGE', 'NEW_CLINIC_MESSAGE', 'DIGEST', 'WEBHOOK_DISABLED', 'ESCALATION')) not valid;
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      delete from notification where kind = 'ESCALATION';
      alter table notification drop constraint notification_kind_check;
      alter table notification add constraint notification_kind_check check (kind in ('MESSAGE', 'NEW_PATIENT_MESSAGE', 'NEW_CLINIC_MESSAGE', 'DIGEST', 'WEBHOOK_DISABLED'));
      drop table response_due;
      alter table messaging_settings drop column routine_response_minutes, drop column urgent_response_minutes, drop column response_time_basis,
        drop column second_escalation_minutes, drop column patients_can_mark_urgent;
      alter table message drop column urgency;
    `);
  }
}
