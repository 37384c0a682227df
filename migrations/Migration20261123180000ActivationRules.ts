import { Migration } from '@mikro-orm/migrations';

/** Per organisation and kind: whether a new patient's channel is activated, and with whom. */
export class Migration20261123180000ActivationRules extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table activation_rule (
        organisation_id uuid not null references organisation (id),
        kind text not null check (kind in ('CARE_TEAM', 'SERVICE_TEAM')),
        auto_activate boolean not null default false,
        team_member_ids uuid[] not null default '{}',
        updated_at timestamptz not null default now(),
        primary key (organisation_id, kind)
      );
    `);
  }

  override async down(): Promise<void> {
    this.addSql('drop table activation_rule;');
  }
}
