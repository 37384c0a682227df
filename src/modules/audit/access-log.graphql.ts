import { Arg, Args, Ctx, Field, FieldResolver, ID, ObjectType, Query, Resolver, Root, registerEnumType } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { connectionType } from '../../common/graphql-types';
import { ForwardPageArgs, pageRequest } from '../../common/pagination';
import { ChannelType } from '../channels/channel.types';
import { AccessorKind, type AccessLogEntry } from './access-log.service';

registerEnumType(AccessorKind, {
  name: 'AccessorKind',
  description: 'Who on the clinic’s side opened the messages.',
  valuesConfig: {
    TEAM_MEMBER: { description: 'A member of staff (named, with their role group).' },
    INTEGRATION: { description: 'A partner integration of the organisation (shown as the organisation).' },
    OPERATOR: { description: 'A platform operator (shown as the organisation).' },
  },
});

@ObjectType('AccessLogEntry', { description: 'Someone on the clinic’s side opened the messages of one of the patient’s channels.' })
export class AccessLogEntryType {
  @Field(() => ID, { description: 'Opaque id.' })
  id!: string;

  @Field(() => Date, { description: 'When.' })
  occurredAt!: Date;

  @Field(() => AccessorKind, { description: 'A team member, an integration or an operator.' })
  accessorKind!: AccessorKind;

  @Field(() => String, { description: 'The team member’s name, or the organisation’s for an integration or operator (never a client id).' })
  accessorName!: string;

  @Field(() => String, { nullable: true, description: 'The team member’s (first) role group, e.g. "Clinician"; null for others.' })
  accessorRole?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'How: `Channel.messages` (opened the channel), `Message.replies` (a thread), `Query.messageSearch` (search results), `Query.patientMessages` (the patient chart). Messaging admins only; null for patients and guardians (which read it was could hint at internal notes they do not see).',
  })
  via?: string | null;
}

export const AccessLogEntryConnection = connectionType('AccessLogEntry', AccessLogEntryType, 'access log entry');

@Resolver(() => AccessLogEntryType)
export class AccessLogResolver {
  @Query(() => AccessLogEntryConnection, {
    description:
      "Who on the clinic's side opened the messages of a patient's channels, newest first, from the audit trail: team members by name and role group, integrations and operators as the organisation. Reads of staff channels never appear. A patient (their own, or a dependant's as guardian: `patientId`), and staff with MESSAGING_ADMIN (`patientId` required).",
  })
  accessLog(
    @Arg('patientId', () => ID, { nullable: true, description: "Whose log: absent for the caller's own (patients)." }) patientId: string | null,
    @Args(() => ForwardPageArgs) page: ForwardPageArgs,
    @Ctx() context: Context,
  ) {
    return context.services.accessLog.list(patientId, pageRequest(page).limit, page.after);
  }

  @FieldResolver(() => ChannelType, { nullable: true, description: 'The conversation or channel, when the caller may still open it (null otherwise).' })
  async channel(@Root() entry: AccessLogEntry, @Ctx() context: Context) {
    return (await context.services.channels.findVisible(entry.channelId))?.channel ?? null;
  }
}
