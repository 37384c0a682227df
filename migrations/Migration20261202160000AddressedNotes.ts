import { Migration } from '@mikro-orm/migrations';

/**
 * Internal notes addressed to role groups: only team members holding one of `audience_roles`, the
 * note's author (`audience_team_member_id`) and messaging admins see them (see
 * src/policy/messages.ts). A thread's replies share its first message's audience, author
 * included. Events about such a note carry the audience too, so live streams decide without
 * loading the note.
 */
export class Migration20261202160000AddressedNotes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table message add column audience_roles text[], add column audience_team_member_id uuid;
      alter table channel_event add column audience_roles text[], add column audience_team_member_id uuid;
    `);
  }

  override async down(): Promise<void> {
    this.addSql('alter table channel_event drop column audience_roles, drop column audience_team_member_id; alter table message drop column audience_roles, drop column audience_team_member_id;');
  }
}
