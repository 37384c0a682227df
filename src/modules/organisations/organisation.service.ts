import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { z } from 'zod';
import { auditedTransaction } from '../audit/audit-log';
import type { RequestScope } from '../../graphql/context';
import { UserError, UserErrorCode, forbidden } from '../../errors';
import { parseInput, requiredText } from '../../common/validation';
import { Organisation } from './organisation.entity';

const createInput = z.object({
  slug: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'A slug is 2-63 lowercase letters, digits and hyphens, starting with a letter or digit.'),
  name: requiredText('The name', 200),
});

export class OrganisationService {
  constructor(private readonly scope: RequestScope) {}

  /** Operators create organisations; the slug is what tokens name in their `org` claim. */
  async create(input: unknown): Promise<Organisation> {
    if (this.scope.actor?.kind !== 'operator') throw forbidden();
    const { slug, name } = parseInput(createInput, input);
    try {
      return await auditedTransaction(
        this.scope,
        async (em) => {
          const organisation = em.create(Organisation, { slug, name, createdAt: new Date() });
          await em.flush();
          return organisation;
        },
        (organisation) => organisation.id,
      );
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) {
        throw new UserError(UserErrorCode.SLUG_TAKEN, `The slug "${slug}" is already taken.`, 'input.slug');
      }
      throw error;
    }
  }

  async findById(id: string): Promise<Organisation | null> {
    return this.scope.em.findOne(Organisation, { id });
  }
}
