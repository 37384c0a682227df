import { Entity, OptionalProps, Property } from '@mikro-orm/core';
import { TenantRecord, TenantScoped } from '../../db/tenant';

/** What a team member may do beyond ordinary messaging: the one list (the GraphQL `Permission` enum is registered from it). */
export const PERMISSIONS = ['MESSAGING_MANAGEMENT', 'MESSAGING_ADMIN'] as const;
export type Permission = (typeof PERMISSIONS)[number];

@Entity({ tableName: 'team_member' })
@TenantScoped()
export class TeamMember extends TenantRecord {
  [OptionalProps]?: 'id' | 'roles' | 'permissions' | 'archivedAt' | 'email' | 'avatarAttachmentId' | 'createdAt' | 'updatedAt';

  @Property({ type: 'text' })
  externalId!: string;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'text', nullable: true })
  email?: string | null;

  @Property({ type: 'text[]' })
  roles: string[] = [];

  @Property({ type: 'text[]' })
  permissions: Permission[] = [];

  @Property({ type: 'datetime', nullable: true })
  archivedAt?: Date | null;

  /** An image they uploaded as their avatar (profileUpdate). */
  @Property({ type: 'uuid', nullable: true })
  avatarAttachmentId?: string | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
