import { Migration } from '@mikro-orm/migrations';

/** Team members choose an avatar too (an image uploaded with purpose AVATAR), as patients do. */
export class Migration20261203060000StaffAvatars extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table team_member add column avatar_attachment_id uuid,
        add foreign key (organisation_id, avatar_attachment_id) references attachment (organisation_id, id);
    `);
  }

  override async down(): Promise<void> {
    this.addSql('alter table team_member drop column avatar_attachment_id;');
  }
}
