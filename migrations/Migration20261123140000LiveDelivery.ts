import { Migration } from '@mikro-orm/migrations';

/**
 * Live delivery across processes and reconnects:
 * - `event_position`: one commit-ordered counter per organisation. Every transaction that writes
 *   channel events takes the next position as its last statement, so positions are assigned in
 *   commit order and a reader that has seen position N has seen everything below it. The inbox
 *   stream and the shared per-process feed read the organisation's events by position.
 * - `channel_event`: its transaction's position, whether only staff may see it (internal notes),
 *   the person a membership or read event is about, and whether only that person is told.
 * - `channel_member`: memberships are ended, not deleted, so "was a member at this event" can be
 *   answered for any event (joined_seq..left_seq), and a person can rejoin with a new row.
 */
export class Migration20261123140000LiveDelivery extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table event_position (
        organisation_id uuid primary key references organisation (id),
        last_position bigint not null default 0,
        -- Events at or below this position may have been removed by retention.
        pruned_through bigint not null default 0
      );

      alter table channel_event
        add column position bigint,
        add column staff_only boolean not null default false,
        add column subject_team_member_id uuid,
        add column subject_patient_id uuid,
        -- Only the subject is told (their own read position, for their other devices).
        add column subject_only boolean not null default false;

      -- Existing events get positions in time order, kept in sequence order within each channel
      -- (a running maximum of the time, should clocks have disagreed).
      update channel_event e set position = ranked.n
        from (select organisation_id, channel_id, seq,
                     row_number() over (partition by organisation_id order by settled_at, channel_id, seq) as n
                from (select organisation_id, channel_id, seq,
                             max(created_at) over (partition by organisation_id, channel_id order by seq) as settled_at
                        from channel_event) settled) ranked
       where ranked.organisation_id = e.organisation_id and ranked.channel_id = e.channel_id and ranked.seq = e.seq;
      insert into event_position (organisation_id, last_position)
        select organisation_id, max(position) from channel_event group by organisation_id;
      alter table channel_event alter column position set not null;
      create index channel_event_position_idx on channel_event (organisation_id, position, channel_id, seq);

      alter table channel_member
        add column joined_seq bigint not null default 0,
        add column left_at timestamptz(3),
        add column left_seq bigint,
        add column removed_by_team_member_id uuid,
        add column last_read_at timestamptz(3),
        add check ((left_at is null) = (left_seq is null));

      update channel_event e set subject_team_member_id = m.team_member_id, subject_patient_id = m.patient_id
        from channel_member m
       where e.type = 'MEMBER_JOINED' and m.organisation_id = e.organisation_id and m.id = e.member_id;
      update channel_member m set joined_seq = e.seq
        from channel_event e
       where e.type = 'MEMBER_JOINED' and e.organisation_id = m.organisation_id and e.member_id = m.id;

      drop index channel_member_team_member_uq;
      drop index channel_member_patient_uq;
      create unique index channel_member_team_member_uq on channel_member (organisation_id, channel_id, team_member_id)
        where team_member_id is not null and left_at is null;
      create unique index channel_member_patient_uq on channel_member (organisation_id, channel_id, patient_id)
        where patient_id is not null and left_at is null;
      create index channel_member_history_idx on channel_member (organisation_id, channel_id, joined_seq);
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      drop index channel_member_history_idx;
      delete from channel_member where left_at is not null;
      drop index channel_member_team_member_uq;
      drop index channel_member_patient_uq;
      create unique index channel_member_team_member_uq on channel_member (organisation_id, channel_id, team_member_id) where team_member_id is not null;
      create unique index channel_member_patient_uq on channel_member (organisation_id, channel_id, patient_id) where patient_id is not null;
      alter table channel_member drop column last_read_at, drop column joined_seq, drop column left_at, drop column left_seq, drop column removed_by_team_member_id;
      drop index channel_event_position_idx;
      alter table channel_event drop column position, drop column staff_only, drop column subject_team_member_id, drop column subject_patient_id, drop column subject_only;
      drop table event_position;
    `);
  }
}
