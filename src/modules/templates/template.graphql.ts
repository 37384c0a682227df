import { Arg, Ctx, Field, ID, InputType, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayload } from '../../graphql/payload';
import type { MessageTemplate } from './template.service';

@ObjectType('MessageTemplate', { description: 'A reusable message. Placeholders: {{patient.firstName}} and {{clinic.name}}, filled in when sent.' })
export class MessageTemplateType {
  @Field(() => ID, { description: 'Opaque id; pass it as `templateId` to messageSend or conversationStart.' })
  id!: string;

  @Field(() => String, { description: 'A name unique in the organisation.' })
  name!: string;

  @Field(() => String, { description: 'Markdown with placeholders.' })
  body!: string;

  @Field(() => Date, { description: 'When it was last changed.' })
  updatedAt!: Date;
}

@InputType({ description: 'A new template.' })
export class MessageTemplateCreateInput {
  @Field(() => String, { description: 'Its name, unique in the organisation.' })
  name!: string;

  @Field(() => String, { description: 'Markdown; only {{patient.firstName}} and {{clinic.name}} as placeholders.' })
  body!: string;
}

@InputType({ description: 'Changes to a template; absent fields stay as they are.' })
export class MessageTemplateUpdateInput {
  @Field(() => ID, { description: 'The template.' })
  templateId!: string;

  @Field(() => String, { nullable: true, description: 'A new name.' })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'A new body.' })
  body?: string | null;
}

@InputType({ description: 'A template to delete.' })
export class MessageTemplateDeleteInput {
  @Field(() => ID, { description: 'The template.' })
  templateId!: string;
}

@ObjectType({ description: 'Result of messageTemplateCreate, messageTemplateUpdate or messageTemplateDelete.' })
export class MessageTemplatePayload extends MutationPayload {
  @Field(() => MessageTemplateType, { nullable: true, description: 'The template (as it was, for a delete).' })
  messageTemplate?: MessageTemplate | null;
}

@Resolver(() => MessageTemplateType)
export class MessageTemplateResolver {
  @Query(() => [MessageTemplateType], { description: "The organisation's message templates, by name. Staff." })
  messageTemplates(@Ctx() context: Context) {
    return context.services.templates.list();
  }

  @Mutation(() => MessageTemplatePayload, { description: 'Creates a template. Staff with MESSAGING_ADMIN.' })
  messageTemplateCreate(@Arg('input', () => MessageTemplateCreateInput, { description: 'The template.' }) input: MessageTemplateCreateInput, @Ctx() context: Context) {
    return mutationPayload(MessageTemplatePayload, 'messageTemplate', () => context.services.templates.create(input));
  }

  @Mutation(() => MessageTemplatePayload, { description: 'Changes a template. Staff with MESSAGING_ADMIN.' })
  messageTemplateUpdate(@Arg('input', () => MessageTemplateUpdateInput, { description: 'The changes.' }) input: MessageTemplateUpdateInput, @Ctx() context: Context) {
    return mutationPayload(MessageTemplatePayload, 'messageTemplate', () => context.services.templates.update(input));
  }

  @Mutation(() => MessageTemplatePayload, { description: 'Deletes a template (messages sent with it keep their text). Staff with MESSAGING_ADMIN.' })
  messageTemplateDelete(@Arg('input', () => MessageTemplateDeleteInput, { description: 'The template.' }) input: MessageTemplateDeleteInput, @Ctx() context: Context) {
    return mutationPayload(MessageTemplatePayload, 'messageTemplate', () => context.services.templates.delete(input));
  }
}
