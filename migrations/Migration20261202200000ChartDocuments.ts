import { Migration } from '@mikro-orm/migrations';

/**
 * A patient's chart documents (lab results, letters, images, forms), registered by partner
 * integrations. The file is an attachment of purpose CHART_DOCUMENT that its service uploaded;
 * attaching the document to a message adds an attachment row of that message that points at the
 * same bytes (`chart_document_id`), so the message keeps the file as it was sent.
 */
export class Migration20261202200000ChartDocuments extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table attachment add column uploaded_by_service_client text, add column chart_document_id uuid;
      alter table attachment drop constraint attachment_check;
      alter table attachment add constraint attachment_one_uploader check (num_nonnulls(uploaded_by_team_member_id, uploaded_by_patient_id, uploaded_by_service_client) = 1);
      alter table attachment drop constraint attachment_purpose_check;
      alter table attachment add constraint attachment_purpose_check check (purpose in ('MESSAGE', 'AVATAR', 'CHART_DOCUMENT'));

      create table chart_document (
        organisation_id uuid not null references organisation (id),
        id uuid not null default gen_random_uuid(),
        patient_id uuid not null,
        -- The integration's own id of the document (its upserts and retries find it by this).
        external_id text,
        title text not null,
        kind text not null check (kind in ('LAB_RESULT', 'IMAGING', 'LETTER', 'FORM', 'REPORT', 'OTHER')),
        clinical_date timestamptz not null,
        file_attachment_id uuid not null,
        registered_by_service_client text not null,
        status text not null default 'ACTIVE' check (status in ('ACTIVE', 'WITHDRAWN')),
        withdrawn_at timestamptz,
        withdrawn_reason text,
        -- When the bytes were removed (at withdrawal with removeFile, or after the retention period).
        file_removed_at timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (organisation_id, id),
        foreign key (organisation_id, patient_id) references patient (organisation_id, id),
        foreign key (organisation_id, file_attachment_id) references attachment (organisation_id, id),
        unique (organisation_id, file_attachment_id),
        check ((status = 'WITHDRAWN') = (withdrawn_at is not null))
      );
      create unique index chart_document_external_idx on chart_document (organisation_id, external_id) where external_id is not null;
      create index chart_document_patient_idx on chart_document (organisation_id, patient_id, clinical_date desc, id desc);
      create index chart_document_withdrawn_idx on chart_document (withdrawn_at) where status = 'WITHDRAWN' and file_removed_at is null;

      alter table attachment add foreign key (organisation_id, chart_document_id) references chart_document (organisation_id, id);
      create index attachment_chart_document_idx on attachment (organisation_id, chart_document_id) where chart_document_id is not null;
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      alter table attachment drop column chart_document_id;
      drop table chart_document;
      delete from attachment where purpose = 'CHART_DOCUMENT';
      alter table attachment drop constraint attachment_purpose_check;
      alter table attachment add constraint attachment_purpose_check check (purpose in ('MESSAGE', 'AVATAR'));
      alter table attachment drop constraint attachment_one_uploader;
      alter table attachment drop column uploaded_by_service_client;
      alter table attachment add constraint attachment_check check ((uploaded_by_team_member_id is null) <> (uploaded_by_patient_id is null));
    `);
  }
}
