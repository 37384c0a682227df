import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Args, Ctx, Field, FieldResolver, Info, Int, ObjectType, Query, Resolver, Root, registerEnumType } from 'type-graphql';
import { recordMessagesRead } from '../audit/audit-recorder';
import type { Context } from '../../graphql/context';
import { connectionType } from '../../common/graphql-types';
import { ForwardPageArgs, pageRequest } from '../../common/pagination';
import { ChannelType } from '../channels/channel.types';
import { MessageType } from '../messages/message.graphql';
import { PatientType } from '../directory/directory.types';
import { UrgencyEnum } from './urgency.graphql';
import type { Urgency } from './due-time';
import { RESPONSES_DUE_SCOPES, type ResponseDue, type ResponsesDueScope } from './responses-due.service';

const ResponsesDueScopeEnum = Object.fromEntries(RESPONSES_DUE_SCOPES.map((value) => [value, value])) as { [Value in ResponsesDueScope]: Value };
registerEnumType(ResponsesDueScopeEnum, {
  name: 'ResponsesDueScope',
  description: 'Whose waiting patients to list.',
  valuesConfig: {
    MINE: { description: 'Channels and conversations the caller is a member of.' },
    ORGANISATION: { description: 'Every one the caller may see (messaging admins: all conversations).' },
  },
});

@ObjectType('ResponseDue', { description: "A patient waiting for a staff reply in one channel or conversation: their oldest unanswered message, and when a reply is due by the organisation's response targets." })
export class ResponseDueType {
  @Field(() => UrgencyEnum, { description: 'URGENT when any of the waiting messages is.' })
  urgency!: Urgency;

  @Field(() => Date, { description: 'When the oldest unanswered message was sent.' })
  waitingSince!: Date;

  @Field(() => Date, { description: 'When a reply is due.' })
  dueAt!: Date;

  @Field(() => Int, { description: '0: not escalated; 1: the channel’s team members (or the responders) were told; 2: the role group too.' })
  escalationLevel!: number;

  @Field(() => Date, { nullable: true, description: 'When it last escalated.' })
  escalatedAt?: Date | null;
}

export const ResponseDueConnection = connectionType('ResponseDue', ResponseDueType, 'waiting patient');

@Resolver(() => ResponseDueType)
export class ResponsesDueResolver {
  @Query(() => ResponseDueConnection, {
    description:
      "Patients waiting for a staff reply, soonest due first (overdue ones first of all): in the caller's channels (MINE) or every one they may see (ORGANISATION). A staff reply or closing the conversation removes it. Staff.",
  })
  responsesDue(
    @Arg('scope', () => ResponsesDueScopeEnum, { defaultValue: 'MINE', description: 'MINE or ORGANISATION.' }) scope: ResponsesDueScope,
    @Arg('dueWithinMinutes', () => Int, { nullable: true, description: 'Only those due within this many minutes from now (0: overdue only); absent: all.' }) dueWithinMinutes: number | null,
    @Args(() => ForwardPageArgs) page: ForwardPageArgs,
    @Ctx() context: Context,
  ) {
    return context.services.responsesDue.list(scope, dueWithinMinutes, pageRequest(page).limit, page.after);
  }

  @FieldResolver(() => ChannelType, { nullable: true, description: 'The channel or conversation (null if the caller can no longer open it).' })
  async channel(@Root() item: ResponseDue, @Ctx() context: Context) {
    return (await context.services.channels.findVisible(item.channelId))?.channel ?? null;
  }

  @FieldResolver(() => PatientType, { nullable: true, description: 'The patient it is about.' })
  patient(@Root() item: ResponseDue, @Ctx() context: Context) {
    return item.patientId ? context.loaders.patient.load(item.patientId) : null;
  }

  @FieldResolver(() => MessageType, { nullable: true, description: 'The oldest unanswered message: for those who may read the conversation (its members, and those who answer it); null otherwise.' })
  async message(@Root() item: ResponseDue, @Ctx() context: Context, @Info() info: GraphQLResolveInfo) {
    if (!(await context.services.channels.findOpenable(item.channelId))) return null;
    const message = await context.services.messages.shownById(item.messageId);
    if (message) await recordMessagesRead(context, info, 'ResponseDue.message', [item.channelId]);
    return message;
  }

  @FieldResolver(() => Boolean, { description: 'Past its due time.' })
  overdue(@Root() item: ResponseDue): boolean {
    return item.dueAt.getTime() <= item.readAt.getTime();
  }

  @FieldResolver(() => Int, { description: 'Whole minutes since the oldest unanswered message was sent.' })
  waitedMinutes(@Root() item: ResponseDue): number {
    return Math.max(0, Math.floor((item.readAt.getTime() - item.waitingSince.getTime()) / 60_000));
  }
}
