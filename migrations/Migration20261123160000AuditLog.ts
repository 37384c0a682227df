import { Migration } from '@mikro-orm/migrations';

/**
 * The audit log: one row per root operation field (every read and change, including denied
 * attempts), append-only by a trigger that refuses UPDATE and DELETE.
 */
export class Migration20261123160000AuditLog extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table audit_event (
        organisation_id uuid not null references organisation (id),
        id uuid not null default gen_random_uuid(),
        occurred_at timestamptz(3) not null default now(),
        actor_kind text not null,
        actor_id text not null,
        request_id text not null,
        action text not null,
        target_type text,
        target_id text,
        outcome text not null check (outcome in ('ALLOWED', 'REJECTED', 'DENIED', 'FAILED')),
        error_code text,
        primary key (organisation_id, id)
      );
      create index audit_event_time_idx on audit_event (organisation_id, occurred_at desc, id desc);
      create index audit_event_actor_idx on audit_event (organisation_id, actor_id, occurred_at desc);
      create index audit_event_target_idx on audit_event (organisation_id, target_id, occurred_at desc);

      create function audit_event_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'audit_event is append-only';
      end $$;
      create trigger audit_event_append_only before update or delete or truncate on audit_event
        for each statement execute function audit_event_append_only();
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      drop trigger audit_event_append_only on audit_event;
      drop function audit_event_append_only();
      drop table audit_event;
    `);
  }
}
