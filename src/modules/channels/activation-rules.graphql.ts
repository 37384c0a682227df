import { Arg, Ctx, Field, FieldResolver, ID, InputType, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayload } from '../../graphql/payload';
import { TeamMemberType } from '../directory/directory.types';
import { activeTeamMembers } from '../directory/active-people';
import { ChannelKind } from './channel.entity';
import type { ActivationRule } from './activation-rules.service';

@ObjectType('ActivationRule', { description: "Whether a new patient's CARE_TEAM or SERVICE_TEAM channel opens by itself, and with whom." })
export class ActivationRuleType {
  @Field(() => ChannelKind, { description: 'CARE_TEAM or SERVICE_TEAM.' })
  kind!: ChannelKind;

  @Field(() => Boolean, { description: 'Activated when patientUpsert creates a patient.' })
  autoActivate!: boolean;
}

@InputType({ description: 'An activation rule.' })
export class ActivationRuleUpdateInput {
  @Field(() => ChannelKind, { description: 'CARE_TEAM or SERVICE_TEAM (UNSUPPORTED_CHANNEL_KIND otherwise).' })
  kind!: ChannelKind;

  @Field(() => Boolean, { description: 'Activate this kind for every new patient.' })
  autoActivate!: boolean;

  @Field(() => [ID], { description: 'Team members added automatically; at least one when autoActivate.' })
  teamMemberIds!: string[];
}

@ObjectType({ description: 'Result of activationRuleUpdate.' })
export class ActivationRuleUpdatePayload extends MutationPayload {
  @Field(() => ActivationRuleType, { nullable: true, description: 'The rule as saved.' })
  activationRule?: ActivationRule | null;
}

@Resolver(() => ActivationRuleType)
export class ActivationRuleResolver {
  @Query(() => [ActivationRuleType], { description: "The organisation's activation rules, one per kind. Staff and services." })
  activationRules(@Ctx() context: Context) {
    return context.services.activationRules.list();
  }

  @Mutation(() => ActivationRuleUpdatePayload, {
    description:
      'Sets whether a kind of patient channel is activated, with the given team members, when patientUpsert creates a patient (in the same transaction). Staff with MESSAGING_ADMIN.',
  })
  activationRuleUpdate(@Arg('input', () => ActivationRuleUpdateInput, { description: 'The rule.' }) input: ActivationRuleUpdateInput, @Ctx() context: Context) {
    return mutationPayload(ActivationRuleUpdatePayload, 'activationRule', () => context.services.activationRules.update(input));
  }

  @FieldResolver(() => [TeamMemberType], { description: 'The team members added automatically (archived ones left out).' })
  teamMembers(@Root() rule: ActivationRule, @Ctx() { loaders }: Context) {
    return activeTeamMembers(loaders.teamMember, rule.teamMemberIds);
  }
}
