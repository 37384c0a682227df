import { Migration } from '@mikro-orm/migrations';

/**
 * Abuse-limit counters shared by every server process (rate-limiter-flexible's PostgreSQL store,
 * used when there is no Redis). Unlogged: counters are worth no write-ahead log, and losing them
 * in a crash only resets the windows.
 */
export class Migration20261202170000RateLimits extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create unlogged table rate_limit (key varchar(255) primary key, points integer not null default 0, expire bigint);
      create index rate_limit_expire_idx on rate_limit (expire);
    `);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists rate_limit;');
  }
}
