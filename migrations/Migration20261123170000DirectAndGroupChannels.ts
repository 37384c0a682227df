import { Migration } from '@mikro-orm/migrations';

/** Direct channels are keyed by their set of team members, so opening one twice finds the first. */
export class Migration20261123170000DirectAndGroupChannels extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table channel add column direct_key text,
        add check ((kind = 'DIRECT') = (direct_key is not null));
      create unique index channel_direct_key_uq on channel (organisation_id, direct_key) where kind = 'DIRECT';
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      drop index channel_direct_key_uq;
      alter table channel drop column direct_key;
    `);
  }
}
