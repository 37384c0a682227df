import { Arg, Args, Ctx, Field, FieldResolver, ID, InputType, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { connectionType } from '../../common/graphql-types';
import { mutationPayloadOf } from '../../graphql/payload';
import { ForwardPageArgs, pageRequest } from '../../common/pagination';
import { channelPolicy } from '../../policy/channels';
import { ChannelType } from '../channels/channel.types';
import type { Channel } from '../channels/channel.entity';
import { ConversationStartPayload } from '../channels/conversation.graphql';
import type { Clinic } from './clinic.service';

@ObjectType('Clinic', { description: 'Another clinic on the platform, as the directory shows it: its name and slug, nothing else.' })
export class ClinicType {
  @Field(() => String, { description: 'Its slug: the address to start a conversation with it (clinicConversationStart).' })
  slug!: string;

  @Field(() => String, { description: 'Its name.' })
  name!: string;
}

export const ClinicConnection = connectionType('Clinic', ClinicType, 'clinic');

@InputType({ description: 'A conversation with another clinic.' })
export class ClinicConversationStartInput {
  @Field(() => String, { description: 'The clinic (its slug, from clinicDirectory).' })
  clinicSlug!: string;

  @Field(() => String, { description: 'The title, up to 200 characters.' })
  title!: string;

  @Field(() => String, { description: 'The first message (markdown, within the server limit).' })
  body!: string;

  @Field(() => ID, { nullable: true, description: "One of this organisation's patients it is about: the other clinic is told the patient's name, nothing else." })
  patientId?: string | null;

  @Field(() => [ID], { nullable: true, description: 'Colleagues who take part in it here besides the caller.' })
  recipientTeamMemberIds?: string[] | null;
}

@Resolver(() => ClinicType)
export class ClinicResolver {
  @Query(() => ClinicConnection, {
    description: 'Other clinics on the platform that accept conversations from clinics (their messaging settings), by name; `search` matches name or slug. Staff.',
  })
  clinicDirectory(
    @Arg('search', () => String, { nullable: true, description: 'Part of the name or slug (up to 100 characters).' }) search: string | null,
    @Args(() => ForwardPageArgs) page: ForwardPageArgs,
    @Ctx() context: Context,
  ) {
    return context.services.clinics.directory(search, pageRequest(page).limit, page.after);
  }

  @Mutation(() => ConversationStartPayload, {
    description:
      "Starts a titled conversation with another clinic and sends its first message. Each clinic keeps its own copy (a CLINIC channel): the other clinic's responders answer it there, and what either side writes appears in both, authors shown as \"<name>, <clinic>\" on the other side. Staff where the messaging settings let them start conversations (NOT_ALLOWED_TO_START); NOT_FOUND for a clinic that does not accept them.",
  })
  clinicConversationStart(@Arg('input', () => ClinicConversationStartInput, { description: 'The clinic, title and first message.' }) input: ClinicConversationStartInput, @Ctx() context: Context) {
    return mutationPayloadOf(ConversationStartPayload, () => context.services.clinics.start(input));
  }
}

@Resolver(() => ChannelType)
export class ClinicChannelFieldResolver {
  @FieldResolver(() => ClinicType, { nullable: true, description: 'CLINIC channels: the other clinic of the conversation; null for every other kind.' })
  otherClinic(@Root() channel: Channel): Clinic | null {
    return channelPolicy.crossesClinics(channel.kind) ? { slug: channel.remoteClinicSlug!, name: channel.remoteClinicName! } : null;
  }

  @FieldResolver(() => Boolean, { description: 'CLINIC channels: the other clinic started it (this organisation’s responders answer it).' })
  startedByOtherClinic(@Root() channel: Channel): boolean {
    return channel.startedByClinic;
  }

  @FieldResolver(() => String, { nullable: true, description: "CLINIC channels the other clinic started about one of its patients: that patient's name as it shared it (`patient` is for this organisation's own patients)." })
  aboutPatientName(@Root() channel: Channel): string | null {
    return channel.remotePatientName ?? null;
  }
}
