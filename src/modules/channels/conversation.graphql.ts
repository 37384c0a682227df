import { Arg, Args, Ctx, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { UrgencyEnum } from '../escalation/urgency.graphql';
import type { Urgency } from '../escalation/due-time';
import type { Context } from '../../graphql/context';
import { MutationPayload, connectionType } from '../../common/graphql-types';
import { ForwardPageArgs, pageRequest } from '../../common/pagination';
import { PatientType } from '../directory/directory.types';
import type { IncomingConversation } from './channel.queries';
import { mutationPayload, mutationPayloadOf } from '../../graphql/payload';
import { MessageType } from '../messages/message.graphql';
import type { Message } from '../messages/message.entity';
import { ChannelType } from './channel.types';
import type { Channel } from './channel.entity';

@InputType({ description: 'A new titled conversation with a patient and its first message.' })
export class ConversationStartInput {
  @Field(() => ID, { nullable: true, description: 'The patient. Staff: required. Patients: omit (themself) or name a dependant they are the guardian of.' })
  patientId?: string | null;

  @Field(() => String, { description: 'The subject, 1 to 200 characters.' })
  title!: string;

  @Field(() => String, { nullable: true, description: 'The first message (markdown); not empty unless a template is given.' })
  body?: string | null;

  @Field(() => ID, { nullable: true, description: 'Staff: a template for the first message instead of a body.' })
  templateId?: string | null;

  @Field(() => [ID], { nullable: true, description: 'Staff: other team members to add (the "To" field). Patients may not choose recipients.' })
  recipientTeamMemberIds?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: 'Staff: whether the patient may reply (default from the messaging settings).' })
  patientCanReply?: boolean | null;

  @Field(() => UrgencyEnum, { nullable: true, description: 'How soon the first message needs an answer (as in messageSend; patients: URGENT only where `patientsCanMarkUrgent`).' })
  urgency?: Urgency | null;

  @Field(() => [ID], { nullable: true, description: 'READY attachments for the first message (as in messageSend).' })
  attachmentIds?: string[] | null;

  @Field(() => [ID], { nullable: true, description: "Staff: documents of the patient's chart for the first message (as in messageSend)." })
  chartDocumentIds?: string[] | null;
}

@ObjectType({ description: 'Result of conversationStart.' })
export class ConversationStartPayload extends MutationPayload {
  @Field(() => ChannelType, { nullable: true, description: 'The new conversation.' })
  channel?: Channel | null;

  @Field(() => MessageType, { nullable: true, description: 'Its first message.' })
  message?: Message | null;
}

@InputType({ description: 'A conversation to close or reopen.' })
export class ConversationChannelInput {
  @Field(() => ID, { description: 'The conversation (a CONVERSATION channel).' })
  channelId!: string;
}

@InputType({ description: 'Changes to a conversation; absent fields stay as they are.' })
export class ConversationUpdateInput {
  @Field(() => ID, { description: 'The conversation.' })
  channelId!: string;

  @Field(() => String, { nullable: true, description: 'A new title.' })
  title?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Whether the patient may reply.' })
  patientCanReply?: boolean | null;
}

@ObjectType({ description: 'Result of conversationClose, conversationReopen or conversationUpdate.' })
export class ConversationChangePayload extends MutationPayload {
  @Field(() => ChannelType, { nullable: true, description: 'The conversation as it is now.' })
  channel?: Channel | null;
}

@ObjectType({ description: 'Result of conversationClose.' })
export class ConversationClosePayload extends ConversationChangePayload {}

@ObjectType('IncomingConversation', { description: 'A conversation a patient (or another clinic: `channel.otherClinic`) started that waits for a team member’s first answer.' })
export class IncomingConversationType {
  @Field(() => ChannelType, { description: 'The conversation: open it, and answer with messageSend (the first to answer becomes a member).' })
  channel!: Channel;

  @Field(() => Date, { description: 'When the patient (or the other clinic) started it.' })
  waitingSince!: Date;
}

const IncomingConversationConnection = connectionType('IncomingConversation', IncomingConversationType, 'conversation waiting for an answer');

@Resolver(() => IncomingConversationType)
export class IncomingConversationResolver {
  @Query(() => IncomingConversationConnection, {
    description:
      'Conversations patients (or other clinics) started that no team member has answered yet (only what the patient sees counts: not automatic replies, not notes for staff), newest first: every one for those who answer patients (every team member where all respond, otherwise the selected responders) and messaging admins; for anyone else, those they are a member of. Staff only.',
  })
  incomingConversations(@Args(() => ForwardPageArgs) page: ForwardPageArgs, @Ctx() context: Context) {
    return context.services.channels.listIncoming(pageRequest(page).limit, page.after ?? undefined);
  }

  @FieldResolver(() => PatientType, { nullable: true, description: 'The patient who is waiting (staff see their real name); null for a conversation another clinic started.' })
  patient(@Root() incoming: IncomingConversation, @Ctx() { loaders }: Context) {
    return incoming.channel.patientId ? loaders.patient.load(incoming.channel.patientId) : null;
  }

  @FieldResolver(() => Int, { description: 'How long they have waited, in whole minutes, as of this read.' })
  waitingMinutes(@Root() incoming: IncomingConversation): number {
    return Math.max(0, Math.floor((Date.now() - incoming.waitingSince.getTime()) / 60_000));
  }
}

@Resolver()
export class ConversationResolver {
  @Mutation(() => ConversationStartPayload, {
    description:
      "Starts a titled conversation with a patient and sends its first message; the patient and their guardians are added. Staff where the messaging settings allow them (NOT_ALLOWED_TO_START), to a messageable patient (PATIENT_NOT_MESSAGEABLE); patients where the settings allow patients to start, the organisation's responders added.",
  })
  conversationStart(@Arg('input', () => ConversationStartInput, { description: 'The patient, title, first message and recipients.' }) input: ConversationStartInput, @Ctx() context: Context) {
    return mutationPayloadOf(ConversationStartPayload, () => context.services.conversations.start(input));
  }

  @Mutation(() => ConversationClosePayload, {
    description: 'Closes a conversation: patients can no longer reply (CHANNEL_CLOSED); staff still can, and can reopen it. Staff members of the conversation.',
  })
  conversationClose(@Arg('input', () => ConversationChannelInput, { description: 'The conversation.' }) input: ConversationChannelInput, @Ctx() context: Context) {
    return mutationPayload(ConversationClosePayload, 'channel', () => context.services.conversations.close(input));
  }

  @Mutation(() => ConversationChangePayload, { description: 'Reopens a closed conversation. Staff members of the conversation.' })
  conversationReopen(@Arg('input', () => ConversationChannelInput, { description: 'The conversation.' }) input: ConversationChannelInput, @Ctx() context: Context) {
    return mutationPayload(ConversationChangePayload, 'channel', () => context.services.conversations.reopen(input));
  }

  @Mutation(() => ConversationChangePayload, { description: 'Renames a conversation or turns patient replies on or off. Staff members of the conversation.' })
  conversationUpdate(@Arg('input', () => ConversationUpdateInput, { description: 'The changes.' }) input: ConversationUpdateInput, @Ctx() context: Context) {
    return mutationPayload(ConversationChangePayload, 'channel', () => context.services.conversations.update(input));
  }
}
