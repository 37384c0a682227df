import { Entity, OptionalProps, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { TenantRecord, TenantScoped } from '../../db/tenant';

@Entity({ tableName: 'patient' })
@TenantScoped()
export class Patient extends TenantRecord {
  [OptionalProps]?: 'id' | 'displayName' | 'email' | 'phone' | 'portalAccess' | 'messagingEnabled' | 'allocationClinicianId' | 'category' | 'avatarAttachmentId' | 'sharedIdentifier' | 'archivedAt' | 'createdAt' | 'updatedAt';

  @Property({ type: 'text' })
  externalId!: string;

  /** Real name: shown to staff and to the patient themselves, never to other patients. */
  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'text', nullable: true })
  displayName?: string | null;

  @Property({ type: 'text', nullable: true })
  email?: string | null;

  @Property({ type: 'text', nullable: true })
  phone?: string | null;

  @Property({ type: 'boolean' })
  portalAccess = true;

  @Property({ type: 'boolean' })
  messagingEnabled = true;

  @Property({ type: 'uuid', nullable: true })
  allocationClinicianId?: string | null;

  /** The customer's category of patient (a "charge band"): organisations enable messaging per category. */
  @Property({ type: 'text', nullable: true })
  category?: string | null;

  /** An image the patient uploaded as their avatar. */
  @Property({ type: 'uuid', nullable: true })
  avatarAttachmentId?: string | null;

  /** An identifier other clinics know too (a national health number, say), from the integration: it matches a handed-over patient. */
  @Property({ type: 'text', nullable: true })
  sharedIdentifier?: string | null;

  @Property({ type: 'datetime', nullable: true })
  archivedAt?: Date | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}

@Entity({ tableName: 'patient_guardian' })
@TenantScoped()
export class PatientGuardian {
  [OptionalProps]?: 'createdAt';
  [PrimaryKeyProp]?: ['organisationId', 'guardianPatientId', 'dependantPatientId'];

  @PrimaryKey({ type: 'uuid' })
  organisationId!: string;

  @PrimaryKey({ type: 'uuid' })
  guardianPatientId!: string;

  @PrimaryKey({ type: 'uuid' })
  dependantPatientId!: string;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
