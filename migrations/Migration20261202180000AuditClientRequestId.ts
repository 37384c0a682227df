import { Migration } from '@mikro-orm/migrations';

/** The request id a client sent (kept beside the server's own, which the client cannot choose). */
export class Migration20261202180000AuditClientRequestId extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table audit_event add column client_request_id text;');
  }

  override async down(): Promise<void> {
    this.addSql('alter table audit_event drop column client_request_id;');
  }
}
