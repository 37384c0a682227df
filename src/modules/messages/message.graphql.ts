import { Arg, Ctx, Field, FieldResolver, ID, InputType, Mutation, ObjectType, Query, Resolver, Root, createUnionType } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayload } from '../../graphql/payload';
import { PatientType, TeamMemberType } from '../directory/directory.graphql';
import { TeamMember } from '../directory/team-member.entity';
import { Patient } from '../directory/patient.entity';
import { Message } from './message.entity';

export const AuthorUnion = createUnionType({
  name: 'Author',
  description: 'Who wrote a message.',
  types: () => [TeamMemberType, PatientType] as const,
  resolveType: (value) => (value instanceof TeamMember ? TeamMemberType : value instanceof Patient ? PatientType : undefined),
});

@ObjectType('Message', { description: 'A message in a channel.' })
export class MessageType {
  @Field(() => ID, { description: 'Opaque id.' })
  id!: string;

  @Field(() => String, { description: 'Markdown, as written.' })
  body!: string;

  @Field(() => Date, { description: 'When it was sent.' })
  createdAt!: Date;
}

@InputType({ description: 'A new message.' })
export class MessageSendInput {
  @Field(() => ID, { description: 'The channel to post in; the caller must be a member.' })
  channelId!: string;

  @Field(() => String, { description: 'Markdown body, not empty, within the server limit (BODY_TOO_LONG).' })
  body!: string;

  @Field(() => ID, {
    nullable: true,
    description: "Guardians: the dependant they write for. Optional: in a dependant's channel a guardian always writes on the dependant's behalf; anywhere else INVALID_INPUT.",
  })
  onBehalfOfPatientId?: string | null;
}

@ObjectType({ description: 'Result of messageSend.' })
export class MessageSendPayload extends MutationPayload {
  @Field(() => MessageType, { nullable: true, description: 'The sent message.' })
  message?: Message | null;
}

@Resolver(() => MessageType)
export class MessageResolver {
  @Query(() => MessageType, { nullable: true, description: 'A message by id; null when it does not exist or the caller may not see it. Staff and patients.' })
  message(@Arg('id', () => ID, { description: 'The message id.' }) id: string, @Ctx() context: Context) {
    return context.services.messages.findVisible(id).then((message) => message ?? null);
  }

  @Mutation(() => MessageSendPayload, { description: "Posts a message in a channel the caller is a member of. Staff and patients (and guardians in their dependants' channels). Patients: CHANNEL_CLOSED, REPLIES_NOT_ALLOWED; staff writing to a patient: PATIENT_NOT_MESSAGEABLE." })
  messageSend(@Arg('input', () => MessageSendInput, { description: 'The channel and the body.' }) input: MessageSendInput, @Ctx() context: Context) {
    return mutationPayload(MessageSendPayload, 'message', () => context.services.messages.send(input));
  }

  @FieldResolver(() => AuthorUnion, { nullable: true, description: 'The author; null if their record is gone.' })
  author(@Root() message: Message, @Ctx() { loaders }: Context) {
    if (message.authorTeamMemberId) return loaders.teamMember.load(message.authorTeamMemberId);
    return message.authorPatientId ? loaders.patient.load(message.authorPatientId) : null;
  }

  @FieldResolver(() => PatientType, {
    nullable: true,
    description: "The patient a guardian wrote for; `author` is the guardian who actually wrote it. Null for everyone else's messages.",
  })
  onBehalfOf(@Root() message: Message, @Ctx() { loaders }: Context) {
    return message.onBehalfOfPatientId ? loaders.patient.load(message.onBehalfOfPatientId) : null;
  }

  @FieldResolver(() => String, { description: 'Opaque position of the message; usable as a channelEvents `after` cursor.' })
  cursor(@Root() message: Message, @Ctx() { deps }: Context): string {
    return deps.cursors.encode({ channelId: message.channelId, seq: message.seq });
  }
}
