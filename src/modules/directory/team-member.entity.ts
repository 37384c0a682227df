import { Entity, OptionalProps, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { TenantScoped } from '../../db/tenant';

export const PERMISSIONS = ['MESSAGING_MANAGEMENT', 'MESSAGING_ADMIN'] as const;
export type Permission = (typeof PERMISSIONS)[number];

@Entity({ tableName: 'team_member' })
@TenantScoped()
export class TeamMember {
  [OptionalProps]?: 'id' | 'roles' | 'permissions' | 'archivedAt' | 'email' | 'createdAt' | 'updatedAt';
  [PrimaryKeyProp]?: ['organisationId', 'id'];

  @PrimaryKey({ type: 'uuid' })
  organisationId!: string;

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

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

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  hasPermission(permission: Permission): boolean {
    return this.permissions.includes(permission);
  }
}
