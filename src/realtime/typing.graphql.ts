import { Arg, Ctx, Field, FieldResolver, ID, InputType, Mutation, ObjectType, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../graphql/context';
import { MutationPayload } from '../common/graphql-types';
import { mutationPayload } from '../graphql/payload';
import { ChannelType } from '../modules/channels/channel.types';
import { AuthorUnion } from '../modules/messages/message.graphql';
import type { Channel } from '../modules/channels/channel.entity';
import type { TypingNotice } from './bus';

@InputType({ description: 'The caller is typing in a channel.' })
export class TypingStartInput {
  @Field(() => ID, { description: 'The channel; the caller must be a member.' })
  channelId!: string;

  @Field(() => Boolean, { nullable: true, description: 'Typing an internal note: only team members are told. Staff only.' })
  internal?: boolean | null;
}

@ObjectType({ description: 'Result of typingStart.' })
export class TypingStartPayload extends MutationPayload {
  @Field(() => ChannelType, { nullable: true, description: 'The channel.' })
  channel?: Channel | null;
}

@ObjectType('TypingEvent', { description: 'Someone is typing in a channel. Ephemeral: never stored, never replayed.' })
export class TypingEventType {}

@Resolver(() => TypingEventType)
export class TypingResolver {
  @Mutation(() => TypingStartPayload, {
    description:
      'Tells the other members that the caller is typing. Call it every few seconds while typing; calls within the server’s interval are accepted and not repeated. Staff and patients who are members.',
  })
  typingStart(@Arg('input', () => TypingStartInput, { description: 'Where the caller is typing.' }) input: TypingStartInput, @Ctx() context: Context) {
    return mutationPayload(TypingStartPayload, 'channel', () => context.services.typing.start(input));
  }

  @Subscription(() => TypingEventType, {
    description: 'Who is typing in a channel the caller is a member of (not the caller). Staff and patients; NOT_FOUND for a channel the caller may not see.',
    subscribe: ({ args, context }) => (context as Context).services.typing.subscribe(args.channelId),
  })
  typing(@Root() notice: TypingNotice, @Arg('channelId', () => ID, { description: 'The channel to watch.' }) _channelId: string): TypingNotice {
    return notice;
  }

  @FieldResolver(() => ID, { description: 'The channel.' })
  channelId(@Root() notice: TypingNotice): string {
    return notice.channelId;
  }

  @FieldResolver(() => AuthorUnion, { nullable: true, description: 'Who is typing.' })
  author(@Root() notice: TypingNotice, @Ctx() { loaders }: Context) {
    if (notice.teamMemberId) return loaders.teamMember.load(notice.teamMemberId);
    return notice.patientId ? loaders.patient.load(notice.patientId) : null;
  }

  @FieldResolver(() => Date, { description: 'When they were typing; treat the indicator as stale a few seconds later.' })
  at(@Root() notice: TypingNotice): Date {
    return new Date(notice.at);
  }
}
