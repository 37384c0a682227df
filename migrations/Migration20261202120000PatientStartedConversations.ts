import { Migration } from '@mikro-orm/migrations';

/**
 * Whether a patient (or a guardian for a dependant) started a conversation: the organisation's
 * responders may find, open and answer those (see src/policy/responders.ts). Conversations
 * written before this had no team member as their creator exactly when a patient started them.
 */
export class Migration20261202120000PatientStartedConversations extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table channel add column started_by_patient boolean not null default false;
      update channel set started_by_patient = true where kind = 'CONVERSATION' and created_by_team_member_id is null;
      -- The incoming list: open conversations patients started.
      create index channel_open_patient_started_idx on channel (organisation_id, created_at) where started_by_patient and status = 'ACTIVE';
    `);
  }

  override async down(): Promise<void> {
    this.addSql('drop index if exists channel_open_patient_started_idx; alter table channel drop column started_by_patient;');
  }
}
