import { Arg, Args, Ctx, Field, ID, InputType, ObjectType, Query, Resolver } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { connectionType } from '../../common/graphql-types';
import { ForwardPageArgs, pageRequest } from '../../common/pagination';

@ObjectType('AuditEvent', { description: 'One recorded operation: a read, a change, or a refused attempt.' })
export class AuditEventType {
  @Field(() => ID, { description: 'Opaque id.' })
  id!: string;

  @Field(() => Date, { description: 'When it happened.' })
  occurredAt!: Date;

  @Field(() => String, { description: 'staff, patient, service or operator.' })
  actorKind!: string;

  @Field(() => String, { description: 'The team member, patient, service client or operator id.' })
  actorId!: string;

  @Field(() => String, { description: 'The request (or WebSocket operation) id the server gave it, as in the server logs and the response\'s `x-request-id`.' })
  requestId!: string;

  @Field(() => String, { nullable: true, description: 'The `x-request-id` the client sent, if any (the client chooses it: for correlating with its own logs, not as evidence).' })
  clientRequestId?: string | null;

  @Field(() => String, { description: 'The operation, e.g. `Mutation.messageSend`, `Query.channel`, `Subscription.channelEvents`.' })
  action!: string;

  @Field(() => String, { nullable: true, description: 'What the operation was about: message, channel, channel_member, patient or team_member.' })
  targetType?: string | null;

  @Field(() => String, { nullable: true, description: 'The id it named (as given, so refused attempts on unknown ids show too).' })
  targetId?: string | null;

  @Field(() => String, { description: 'ALLOWED, REJECTED (bad input, nothing changed), DENIED (refused or not visible) or FAILED.' })
  outcome!: string;

  @Field(() => String, { nullable: true, description: 'The error or userErrors code, when not ALLOWED.' })
  errorCode?: string | null;
}

export const AuditEventConnection = connectionType('AuditEvent', AuditEventType, 'audit event');

@InputType({ description: 'Narrows the audit log.' })
export class AuditEventFilterInput {
  @Field(() => String, { nullable: true, description: 'Only this actor.' })
  actorId?: string | null;

  @Field(() => String, { nullable: true, description: 'Only this operation, e.g. `Mutation.messageSend`.' })
  action?: string | null;

  @Field(() => String, { nullable: true, description: 'Only operations about this id.' })
  targetId?: string | null;

  @Field(() => Date, { nullable: true, description: 'From this time (inclusive).' })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Before this time.' })
  to?: Date | null;
}

@Resolver()
export class AuditResolver {
  @Query(() => AuditEventConnection, {
    description:
      "The organisation's audit log, newest first: every read and change of messaging data, including refused attempts. Append-only. Staff with MESSAGING_ADMIN.",
  })
  auditEvents(
    @Args(() => ForwardPageArgs) page: ForwardPageArgs,
    @Arg('filter', () => AuditEventFilterInput, { nullable: true, description: 'Narrow by actor, operation, target or time.' }) filter: AuditEventFilterInput | null,
    @Ctx() context: Context,
  ) {
    return context.services.audit.list(filter ?? {}, pageRequest(page).limit, page.after ?? undefined);
  }
}
