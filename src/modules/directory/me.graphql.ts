import { Ctx, Field, ObjectType, Query, Resolver, createUnionType } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { OrganisationType } from '../organisations/organisation.graphql';
import { TeamMember } from './team-member.entity';
import { Patient } from './patient.entity';
import { PatientType, TeamMemberType } from './directory.types';

@ObjectType('ServiceClient', { description: 'A partner integration acting for one organisation.' })
export class ServiceClientType {
  @Field(() => String, { description: 'The client id from the token.' })
  clientId!: string;

  @Field(() => OrganisationType, { description: 'The organisation it acts for.' })
  organisation!: unknown;
}

@ObjectType('Operator', { description: 'A platform operator: manages organisations, sees no messaging data.' })
export class OperatorType {
  @Field(() => String, { description: 'The operator id from the token.' })
  operatorId!: string;
}

export const ActorUnion = createUnionType({
  name: 'Actor',
  description: 'Who the caller is.',
  types: () => [TeamMemberType, PatientType, ServiceClientType, OperatorType] as const,
  resolveType: (value) => {
    if (value instanceof TeamMember) return TeamMemberType;
    if (value instanceof Patient) return PatientType;
    if ('clientId' in value) return ServiceClientType;
    return OperatorType;
  },
});

/** `me`: the caller, whatever kind of actor they are. */
@Resolver()
export class MeResolver {
  @Query(() => ActorUnion, { description: 'The caller. Any valid token.' })
  async me(@Ctx() context: Context): Promise<unknown> {
    const { actor, loaders, services } = context;
    switch (actor?.kind) {
      case 'staff':
        return loaders.teamMember.load(actor.teamMemberId);
      case 'patient':
        return loaders.patient.load(actor.patientId);
      case 'service':
        return { clientId: actor.clientId, organisation: await services.organisations.findById(actor.organisationId) };
      case 'operator':
        return { operatorId: actor.operatorId };
      default:
        return null;
    }
  }
}
