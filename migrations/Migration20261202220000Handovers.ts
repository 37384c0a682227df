import { Migration } from '@mikro-orm/migrations';

/**
 * Handing a patient conversation over to another clinic. Each clinic keeps its own record of a
 * handover (OUTGOING at the sender, INCOMING at the receiver), linked only by the handover's
 * shared id (`thread`, also the id of the conversation between the two clinics about it).
 */
export class Migration20261202220000Handovers extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      -- An identifier of the patient that other clinics know too (a national health number, say),
      -- supplied by the integration: it matches a handed-over patient to an existing record.
      alter table patient add column shared_identifier text;
      create unique index patient_shared_identifier_uq on patient (organisation_id, shared_identifier) where shared_identifier is not null;

      create table handover (
        organisation_id uuid not null references organisation (id),
        id uuid not null default gen_random_uuid(),
        direction text not null check (direction in ('OUTGOING', 'INCOMING')),
        thread uuid not null,
        status text not null default 'PENDING' check (status in ('PENDING', 'ACCEPTED', 'DECLINED')),
        remote_clinic_slug text not null,
        remote_clinic_name text not null,
        -- OUTGOING: the patient conversation handed over. INCOMING: the conversation it became, once accepted.
        channel_id uuid,
        -- INCOMING: the patient it was matched to or created as, once accepted.
        patient_id uuid,
        -- The conversation between the two clinics about it (CLINIC channel, one per side).
        clinic_channel_id uuid not null,
        -- What was offered: the patient as the sender knows them, the transcript, the consent, the note.
        offer jsonb not null,
        consent_attested_by text not null,
        consent_obtained_at timestamptz not null,
        consent_method text not null check (consent_method in ('VERBAL', 'WRITTEN', 'PORTAL')),
        created_by_team_member_id uuid,
        decided_by_team_member_id uuid,
        decided_at timestamptz,
        decline_reason text,
        created_at timestamptz not null default now(),
        primary key (organisation_id, id),
        unique (organisation_id, direction, remote_clinic_slug, thread),
        foreign key (organisation_id, channel_id) references channel (organisation_id, id),
        foreign key (organisation_id, clinic_channel_id) references channel (organisation_id, id),
        foreign key (organisation_id, patient_id) references patient (organisation_id, id),
        foreign key (organisation_id, created_by_team_member_id) references team_member (organisation_id, id),
        foreign key (organisation_id, decided_by_team_member_id) references team_member (organisation_id, id),
        check ((status = 'DECLINED') = (decline_reason is not null))
      );
      -- At most one pending handover of a conversation: a retried offer finds the first.
      create unique index handover_pending_uq on handover (organisation_id, channel_id) where direction = 'OUTGOING' and status = 'PENDING';
      create index handover_list_idx on handover (organisation_id, direction, status, created_at desc, id desc);
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      drop table handover;
      alter table patient drop column shared_identifier;
    `);
  }
}
