import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, Field, FieldResolver, ID, Info, InputType, Int, Mutation, ObjectType, Query, Resolver, Root, createUnionType } from 'type-graphql';
import { recordMessagesRead } from '../audit/audit-recorder';
import type { Context } from '../../graphql/context';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayload, mutationPayloadOf } from '../../graphql/payload';
import type { ReactionSummary } from './reaction.queries';
import { messagePolicy } from '../../policy/messages';
import { extractLinks, renderMarkdown } from './markdown';
import { AttachmentType } from '../attachments/attachment.graphql';
import { PatientType, TeamMemberType } from '../directory/directory.types';
import { TeamMember } from '../directory/team-member.entity';
import { Patient } from '../directory/patient.entity';
import { Message } from './message.entity';
import { UrgencyEnum } from '../escalation/urgency.graphql';
import type { Urgency } from '../escalation/due-time';
import { OtherClinicAuthor, OtherClinicAuthorType, otherClinicAuthorOf } from '../clinics/clinic-author.graphql';

export const AuthorUnion = createUnionType({
  name: 'Author',
  description: 'Who wrote a message: a team member or patient of this organisation, or someone at another clinic (conversations between clinics).',
  types: () => [TeamMemberType, PatientType, OtherClinicAuthorType] as const,
  resolveType: (value) => (value instanceof TeamMember ? TeamMemberType : value instanceof Patient ? PatientType : value instanceof OtherClinicAuthor ? OtherClinicAuthorType : undefined),
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

  @Field(() => String, { nullable: true, description: 'Markdown body within the server limit (BODY_TOO_LONG); not empty unless there are attachments or a template.' })
  body?: string | null;

  @Field(() => ID, { nullable: true, description: 'Staff: send this template (placeholders filled in) instead of a body.' })
  templateId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Reply in the thread of this message (one level: not a reply itself, REPLY_TO_REPLY).' })
  parentMessageId?: string | null;

  @Field(() => [ID], { nullable: true, description: 'Up to 10 READY attachments the caller uploaded (attachmentCreateUpload) and has not sent yet; with them the body may be empty.' })
  attachmentIds?: string[] | null;

  @Field(() => [ID], {
    nullable: true,
    description:
      "Staff: documents of the patient's chart (chartDocuments) to attach by reference, no upload; with attachmentIds at most 10 in all. Only in the document's own patient's channels (care team, service team, their conversations, a staff channel about them): CHART_DOCUMENT_WRONG_CHANNEL anywhere else; CHART_DOCUMENT_WITHDRAWN for a withdrawn one.",
  })
  chartDocumentIds?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: 'An internal note: staff only, never shown to patients or guardians. Staff, in channels with patients. A reply to an internal note is internal.' })
  internal?: boolean | null;

  @Field(() => [String], {
    nullable: true,
    description:
      'Address the internal note to these role groups (see `roleGroups`): only team members in them, its author and messaging admins (MESSAGING_ADMIN) see it, on every route. Left out, a note is for all staff. Needs `internal: true` and a first message of a thread: a reply shares its thread\'s audience.',
  })
  audienceRoles?: string[] | null;

  @Field(() => UrgencyEnum, {
    nullable: true,
    description:
      "How soon it needs an answer (default ROUTINE). A patient's message starts its channel's response target (messaging settings); past it, unanswered, it escalates. Patients: URGENT only where `patientsCanMarkUrgent` (URGENCY_NOT_ALLOWED).",
  })
  urgency?: Urgency | null;

  @Field(() => String, {
    nullable: true,
    description: 'Makes the send safe to retry: the same key from the same sender returns the original message; with different content, IDEMPOTENCY_KEY_REUSED.',
  })
  idempotencyKey?: string | null;

  @Field(() => ID, {
    nullable: true,
    description: "Guardians: the dependant they write for. Optional: in a dependant's channel a guardian always writes on the dependant's behalf; anywhere else INVALID_INPUT.",
  })
  onBehalfOfPatientId?: string | null;
}

@ObjectType('MessageRevision', { description: 'An earlier body of an edited or deleted message.' })
export class MessageRevisionType {
  @Field(() => String, { description: 'The body as it was.' })
  body!: string;

  @Field(() => Date, { description: 'When it was replaced.' })
  replacedAt!: Date;
}

@InputType({ description: 'A new body for a message.' })
export class MessageEditInput {
  @Field(() => ID, { description: 'The message.' })
  messageId!: string;

  @Field(() => String, { description: 'The new markdown body (BODY_TOO_LONG over the limit).' })
  body!: string;
}

@InputType({ description: 'A message to delete.' })
export class MessageDeleteInput {
  @Field(() => ID, { description: 'The message.' })
  messageId!: string;
}

@ObjectType({ description: 'Result of messageEdit or messageDelete.' })
export class MessageChangePayload extends MutationPayload {
  @Field(() => MessageType, { nullable: true, description: 'The message as it is now.' })
  message?: Message | null;
}

@ObjectType('Reaction', { description: 'One emoji on a message: how many people used it, and whether the caller did.' })
export class ReactionType {
  @Field(() => String, { description: 'The emoji (a like is 👍).' })
  emoji!: string;

  @Field(() => Int, { description: 'How many people reacted with it.' })
  count!: number;

  @Field(() => Boolean, { description: 'Whether the caller is one of them.' })
  reactedByMe!: boolean;
}

@InputType({ description: 'A reaction to add or take back.' })
export class ReactionInput {
  @Field(() => ID, { description: 'The message.' })
  messageId!: string;

  @Field(() => String, { description: 'Exactly one emoji (INVALID_EMOJI otherwise); 👍 is a like.' })
  emoji!: string;
}

@ObjectType({ description: 'Result of reactionAdd or reactionRemove.' })
export class ReactionPayload extends MutationPayload {
  @Field(() => MessageType, { nullable: true, description: 'The message, with its reactions.' })
  message?: Message | null;

  @Field(() => ReactionType, { nullable: true, description: 'The emoji as it stands now on the message.' })
  reaction?: ReactionSummary | null;
}

@ObjectType({ description: 'Result of messageSend.' })
export class MessageSendPayload extends MutationPayload {
  @Field(() => MessageType, { nullable: true, description: 'The sent message.' })
  message?: Message | null;
}

@Resolver(() => MessageType)
export class MessageResolver {
  @Query(() => MessageType, { nullable: true, description: 'A message by id; null when it does not exist or the caller may not see it. Staff and patients.' })
  async message(@Arg('id', () => ID, { description: 'The message id.' }) id: string, @Ctx() context: Context, @Info() info: GraphQLResolveInfo) {
    const message = await context.services.messages.findReadable(id);
    if (!message) return null;
    await recordMessagesRead(context, info, 'Query.message', [message.channelId]);
    return message;
  }

  @Mutation(() => MessageSendPayload, { description: "Posts a message in a channel the caller is a member of. Staff and patients (and guardians in their dependants' channels). Patients: CHANNEL_CLOSED, REPLIES_NOT_ALLOWED; staff writing to a patient: PATIENT_NOT_MESSAGEABLE." })
  messageSend(@Arg('input', () => MessageSendInput, { description: 'The channel and the body.' }) input: MessageSendInput, @Ctx() context: Context) {
    return mutationPayload(MessageSendPayload, 'message', () => context.services.messages.send(input));
  }

  @Mutation(() => MessageChangePayload, {
    description: "Edits a message; the earlier body is kept in `revisions`. The author, or staff with MESSAGING_MANAGEMENT for anyone's message. FORBIDDEN otherwise; MESSAGE_DELETED for a deleted one.",
  })
  messageEdit(@Arg('input', () => MessageEditInput, { description: 'The message and its new body.' }) input: MessageEditInput, @Ctx() context: Context) {
    return mutationPayload(MessageChangePayload, 'message', () => context.services.messageEdits.edit(input));
  }

  @Mutation(() => MessageChangePayload, {
    description: "Deletes a message, leaving a tombstone in place (empty body, `deletedAt`); the body is kept in `revisions`. The author, or staff with MESSAGING_MANAGEMENT for anyone's message.",
  })
  messageDelete(@Arg('input', () => MessageDeleteInput, { description: 'The message.' }) input: MessageDeleteInput, @Ctx() context: Context) {
    return mutationPayload(MessageChangePayload, 'message', () => context.services.messageEdits.delete(input));
  }

  @Mutation(() => ReactionPayload, { description: 'Reacts to a message with an emoji (one of each per person); adding it again changes nothing. Staff and patients who are members.' })
  reactionAdd(@Arg('input', () => ReactionInput, { description: 'The message and the emoji.' }) input: ReactionInput, @Ctx() context: Context) {
    return mutationPayloadOf(ReactionPayload, () => context.services.reactions.add(input));
  }

  @Mutation(() => ReactionPayload, { description: "Takes the caller's reaction back. Staff and patients who are members." })
  reactionRemove(@Arg('input', () => ReactionInput, { description: 'The message and the emoji.' }) input: ReactionInput, @Ctx() context: Context) {
    return mutationPayloadOf(ReactionPayload, () => context.services.reactions.remove(input));
  }

  @FieldResolver(() => [AttachmentType], { description: 'Its images, videos and documents (none once deleted); batched for a whole page.' })
  async attachments(@Root() message: Message, @Ctx() { loaders }: Context) {
    return message.deletedAt ? [] : loaders.messageAttachments.load(message.id);
  }

  @FieldResolver(() => [ReactionType], { description: 'Its reactions, first used first (batched for a whole page).' })
  reactions(@Root() message: Message, @Ctx() { loaders }: Context) {
    return loaders.reactions.load(message.id);
  }

  @FieldResolver(() => String, {
    description:
      'The body rendered as HTML, safe to insert into a page: raw HTML shows as text, only http(s), mailto and tel links, links open in a new tab without referrer, no remote images.',
  })
  html(@Root() message: Message): string {
    return renderMarkdown(message.body);
  }

  @FieldResolver(() => [String], { description: 'The links in the body (explicit and bare addresses), in order, each once.' })
  links(@Root() message: Message): string[] {
    return extractLinks(message.body);
  }

  @FieldResolver(() => Boolean, { description: "An automatic reply of the organisation (the messaging settings'); `author` is null." })
  system(@Root() message: Message): boolean {
    return message.system;
  }

  @FieldResolver(() => UrgencyEnum, { description: 'How soon it needs an answer, as its author marked it.' })
  urgency(@Root() message: Message): Urgency {
    return message.urgency;
  }

  @FieldResolver(() => Boolean, { description: 'An internal note (only staff ever see these).' })
  internal(@Root() message: Message): boolean {
    return message.internal;
  }

  @FieldResolver(() => [String], { nullable: true, description: 'The role groups an internal note is addressed to (only they, its author and messaging admins see it); null for a note to all staff and for every other message.' })
  audienceRoles(@Root() message: Message): string[] | null {
    return message.audienceRoles?.length ? message.audienceRoles : null;
  }

  @FieldResolver(() => MessageType, { nullable: true, description: 'The message this one replies to, in its thread; null for a top-level message.' })
  parent(@Root() message: Message, @Ctx() { services }: Context) {
    return services.messages.parentOf(message);
  }

  @FieldResolver(() => Int, { description: 'Replies in its thread that the caller can see (internal replies count for staff only).' })
  replyCount(@Root() message: Message, @Ctx() { actor }: Context): number {
    return messagePolicy.replyCount(actor, message);
  }

  @FieldResolver(() => Int, {
    description: "Replies in its thread by others after the caller's read position of the channel (channelMarkRead with a reply's id moves it). Batched for a whole page.",
  })
  unreadReplyCount(@Root() message: Message, @Ctx() { loaders }: Context): Promise<number> | number {
    return message.parentMessageId ? 0 : loaders.unreadReplyCount.load(message.id);
  }

  @FieldResolver(() => [AuthorUnion], { description: 'Who replied in its thread, first to reply first (batched for a whole page).' })
  async threadParticipants(@Root() message: Message, @Ctx() { loaders }: Context) {
    const people = await loaders.threadParticipants.load(message.id);
    const found = await Promise.all(people.map((person) => (person.teamMemberId ? loaders.teamMember.load(person.teamMemberId) : loaders.patient.load(person.patientId!))));
    return found.filter((person) => person !== undefined);
  }

  @FieldResolver(() => Date, { nullable: true, description: 'When its thread last got a reply the caller can see.' })
  lastReplyAt(@Root() message: Message, @Ctx() { actor }: Context): Date | null {
    return messagePolicy.lastReplyAt(actor, message);
  }

  @FieldResolver(() => Date, { nullable: true, description: 'When it was last edited; null if never.' })
  editedAt(@Root() message: Message): Date | null {
    return message.editedAt ?? null;
  }

  @FieldResolver(() => Date, { nullable: true, description: 'When it was deleted; its body is then empty (a tombstone).' })
  deletedAt(@Root() message: Message): Date | null {
    return message.deletedAt ?? null;
  }

  @FieldResolver(() => [MessageRevisionType], { nullable: true, description: 'Earlier bodies, oldest first. Staff only; null for patients.' })
  revisions(@Root() message: Message, @Ctx() { actor, loaders }: Context) {
    return messagePolicy.seesRevisions(actor) ? loaders.revisions.load(message.id) : null;
  }

  @FieldResolver(() => AuthorUnion, { nullable: true, description: 'The author; null for an automatic reply (`system`). Someone at another clinic is an OtherClinicAuthor.' })
  author(@Root() message: Message, @Ctx() { loaders }: Context) {
    if (message.authorTeamMemberId) return loaders.teamMember.load(message.authorTeamMemberId);
    return message.authorPatientId ? loaders.patient.load(message.authorPatientId) : otherClinicAuthorOf(message);
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
