import { Migration } from '@mikro-orm/migrations';

/**
 * What a patient added to a group sees of what was written before: from their joining (the
 * default: other patients' earlier messages are not theirs to read) or everything.
 */
export class Migration20261202190000GroupHistory extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table messaging_settings add column group_history text not null default 'FROM_JOINING' check (group_history in ('FROM_JOINING', 'EVERYTHING'));`);
  }

  override async down(): Promise<void> {
    this.addSql('alter table messaging_settings drop column group_history;');
  }
}
