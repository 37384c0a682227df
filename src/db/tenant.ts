import { Filter, PrimaryKey, PrimaryKeyProp } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';

export const TENANT_FILTER = 'tenant';

/**
 * Scopes every find/count of a tenant-owned entity to the organisation set on the
 * EntityManager (`em.setFilterParams(TENANT_FILTER, { organisationId })`). The filter is on by
 * default and MikroORM refuses to run it without its parameter, so a query made on an
 * unscoped EntityManager fails instead of reading across organisations.
 */
export const TenantScoped = () =>
  Filter({
    name: TENANT_FILTER,
    default: true,
    cond: ({ organisationId }: { organisationId: string }) => ({ organisationId }),
  });

/**
 * Keys of a tenant-owned row: `(organisation_id, id)`, the organisation leading as in every
 * index and foreign key of such tables.
 */
export abstract class TenantRecord {
  [PrimaryKeyProp]?: ['organisationId', 'id'];

  @PrimaryKey({ type: 'uuid' })
  organisationId!: string;

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();
}
