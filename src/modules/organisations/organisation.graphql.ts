import { Arg, Ctx, Field, ID, InputType, Mutation, ObjectType, Resolver } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayload } from '../../graphql/payload';
import { Organisation } from './organisation.entity';

@ObjectType('Organisation', { description: 'A healthcare organisation: the tenant that owns people, channels and messages.' })
export class OrganisationType {
  @Field(() => ID, { description: 'Opaque id.' })
  id!: string;

  @Field(() => String, { description: 'Short unique name, used as the `org` claim of tokens.' })
  slug!: string;

  @Field(() => String, { description: 'Display name of the organisation.' })
  name!: string;

  @Field(() => Date, { description: 'When the organisation was created.' })
  createdAt!: Date;
}

@InputType({ description: 'A new organisation.' })
export class OrganisationCreateInput {
  @Field(() => String, { description: '2-63 lowercase letters, digits and hyphens; unique.' })
  slug!: string;

  @Field(() => String, { description: 'Display name.' })
  name!: string;
}

@ObjectType({ description: 'Result of organisationCreate.' })
export class OrganisationCreatePayload extends MutationPayload {
  @Field(() => OrganisationType, { nullable: true, description: 'The new organisation; null when userErrors is not empty.' })
  organisation?: Organisation | null;
}

@Resolver()
export class OrganisationResolver {
  @Mutation(() => OrganisationCreatePayload, { description: 'Creates an organisation. Operators only.' })
  organisationCreate(@Arg('input', () => OrganisationCreateInput, { description: 'Slug and name.' }) input: OrganisationCreateInput, @Ctx() context: Context) {
    return mutationPayload(OrganisationCreatePayload, 'organisation', () => context.services.organisations.create(input));
  }
}
