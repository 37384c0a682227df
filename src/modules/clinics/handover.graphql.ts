import { Arg, Args, Ctx, Field, FieldResolver, ID, InputType, Mutation, ObjectType, Query, Resolver, Root, registerEnumType } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload, connectionType } from '../../common/graphql-types';
import { mutationPayload } from '../../graphql/payload';
import { ForwardPageArgs, pageRequest } from '../../common/pagination';
import { ChannelType } from '../channels/channel.types';
import { PatientType } from '../directory/directory.types';
import { ClinicType } from './clinic.graphql';
import type { Clinic } from './clinic.service';
import type { HandoverOffer } from './clinic-envelope';
import { ConsentMethod, Handover, HandoverDirection, HandoverStatus } from './handover.entity';

registerEnumType(HandoverDirection, {
  name: 'HandoverDirection',
  description: 'Whether this clinic hands the conversation over or receives it.',
  valuesConfig: { OUTGOING: { description: 'Offered by this clinic to another.' }, INCOMING: { description: 'Offered to this clinic by another.' } },
});

registerEnumType(HandoverStatus, {
  name: 'HandoverStatus',
  description: 'Where a handover stands.',
  valuesConfig: {
    PENDING: { description: 'Waiting for the receiving clinic to accept or decline it.' },
    ACCEPTED: { description: 'Accepted: the conversation continues at the receiving clinic; the sending one closed it for the patient.' },
    DECLINED: { description: 'Declined by the receiving clinic, with a reason; nothing changed for the patient.' },
  },
});

registerEnumType(ConsentMethod, {
  name: 'ConsentMethod',
  description: "How the patient's consent to the handover was obtained.",
  valuesConfig: { VERBAL: { description: 'Spoken (in person or by phone).' }, WRITTEN: { description: 'On a signed form.' }, PORTAL: { description: 'Given in the patient portal.' } },
});

@ObjectType('HandoverConsent', { description: "The patient's consent to a handover, as recorded by the sending clinic." })
export class HandoverConsentType {
  @Field(() => String, { description: 'The team member who attested it (their name).' })
  attestedBy!: string;

  @Field(() => Date, { description: 'When it was given.' })
  obtainedAt!: Date;

  @Field(() => ConsentMethod, { description: 'How.' })
  method!: ConsentMethod;
}

@ObjectType('HandoverTranscriptMessage', { description: 'A message that goes with a handover, as the sending clinic sent it.' })
export class HandoverTranscriptMessageType {
  @Field(() => String, { description: 'Who wrote it (a name).' })
  authorName!: string;

  @Field(() => Boolean, { description: 'The patient (or their guardian) wrote it.' })
  fromPatient!: boolean;

  @Field(() => String, { description: 'Its markdown body.' })
  body!: string;

  @Field(() => Date, { description: 'When it was sent.' })
  sentAt!: Date;

  @Field(() => [String], { description: 'The names of the files that go with it.' })
  fileNames!: string[];
}

@ObjectType('Handover', { description: "One clinic's record of a handover of a patient conversation to another clinic." })
export class HandoverType {
  @Field(() => ID, { description: 'Opaque id (this clinic’s own).' })
  id!: string;

  @Field(() => HandoverDirection, { description: 'OUTGOING (offered by this clinic) or INCOMING (offered to it).' })
  direction!: HandoverDirection;

  @Field(() => HandoverStatus, { description: 'PENDING, ACCEPTED or DECLINED.' })
  status!: HandoverStatus;

  @Field(() => Date, { description: 'When it was offered (received, for an INCOMING one).' })
  createdAt!: Date;
}

export const HandoverConnection = connectionType('Handover', HandoverType, 'handover');

@InputType({ description: "The patient's consent to a handover." })
export class HandoverConsentInput {
  @Field(() => Date, { description: 'When the patient gave it (not in the future).' })
  obtainedAt!: Date;

  @Field(() => ConsentMethod, { description: 'How.' })
  method!: ConsentMethod;

  @Field(() => ID, { nullable: true, description: 'The team member who attests it; default the caller.' })
  attestedByTeamMemberId?: string | null;
}

@InputType({ description: 'A conversation to hand over to another clinic.' })
export class ConversationHandoverInput {
  @Field(() => ID, { description: 'The patient conversation (a CONVERSATION channel the caller is a member of).' })
  channelId!: string;

  @Field(() => String, { description: 'The receiving clinic (its slug, from clinicDirectory).' })
  clinicSlug!: string;

  @Field(() => [ID], { description: 'The messages that go with it (1 to 500; internal notes never go: INVALID_INPUT).' })
  messageIds!: string[];

  @Field(() => [ID], { nullable: true, description: 'The files of those messages that go with it; absent: all of them; empty: none.' })
  attachmentIds?: string[] | null;

  @Field(() => HandoverConsentInput, { description: "The patient's consent." })
  consent!: HandoverConsentInput;

  @Field(() => String, { nullable: true, description: 'A note for the receiving clinic (up to 2,000 characters).' })
  note?: string | null;
}

@InputType({ description: 'An incoming handover to accept.' })
export class HandoverAcceptInput {
  @Field(() => ID, { description: 'The handover (INCOMING).' })
  handoverId!: string;

  @Field(() => ID, { nullable: true, description: "The patient of this clinic it is for; absent: the one whose sharedIdentifier matches (`suggestedPatient`), unless createPatient." })
  patientId?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Create a patient record from what the sending clinic shared (name, email, phone, shared identifier).' })
  createPatient?: boolean | null;
}

@InputType({ description: 'An incoming handover to decline.' })
export class HandoverDeclineInput {
  @Field(() => ID, { description: 'The handover (INCOMING).' })
  handoverId!: string;

  @Field(() => String, { description: 'Why (the sending clinic is told; up to 1,000 characters).' })
  reason!: string;
}

@ObjectType({ description: 'Result of conversationHandover, handoverAccept or handoverDecline.' })
export class HandoverPayload extends MutationPayload {
  @Field(() => HandoverType, { nullable: true, description: 'The handover as it is now.' })
  handover?: Handover | null;
}

@Resolver(() => HandoverType)
export class HandoverResolver {
  @Query(() => HandoverConnection, {
    description:
      'Handovers of the organisation, newest first. INCOMING: those who answer patients and messaging admins (FORBIDDEN otherwise). OUTGOING: messaging admins see all, other team members those they offered. Staff.',
  })
  handovers(
    @Arg('direction', () => HandoverDirection, { description: 'INCOMING or OUTGOING.' }) direction: HandoverDirection,
    @Arg('status', () => HandoverStatus, { nullable: true, description: 'Only these.' }) status: HandoverStatus | null,
    @Args(() => ForwardPageArgs) page: ForwardPageArgs,
    @Ctx() context: Context,
  ) {
    return context.services.handovers.list(direction, status, pageRequest(page).limit, page.after);
  }

  @Mutation(() => HandoverPayload, {
    description:
      "Hands a patient conversation over to another clinic that accepts them, with the chosen messages and files and the patient's consent recorded. The patient is not told until the other clinic accepts (they are then told, and the conversation closes here). Offering again while it is pending returns the same handover. Staff members of the conversation.",
  })
  conversationHandover(@Arg('input', () => ConversationHandoverInput, { description: 'The conversation, the clinic, what goes, the consent.' }) input: ConversationHandoverInput, @Ctx() context: Context) {
    return mutationPayload(HandoverPayload, 'handover', () => context.services.handovers.offer(input));
  }

  @Mutation(() => HandoverPayload, {
    description:
      'Accepts an incoming handover: a conversation with the transcript appears here with the patient (chosen, matched by shared identifier, or created) and the caller; the patient is told; the sending clinic closes its conversation. All or nothing; accepting again returns the same. Those who answer patients, and messaging admins.',
  })
  handoverAccept(@Arg('input', () => HandoverAcceptInput, { description: 'The handover and the patient.' }) input: HandoverAcceptInput, @Ctx() context: Context) {
    return mutationPayload(HandoverPayload, 'handover', () => context.services.handovers.accept(input));
  }

  @Mutation(() => HandoverPayload, { description: 'Declines an incoming handover; the sending clinic is told why. Those who answer patients, and messaging admins.' })
  handoverDecline(@Arg('input', () => HandoverDeclineInput, { description: 'The handover and why.' }) input: HandoverDeclineInput, @Ctx() context: Context) {
    return mutationPayload(HandoverPayload, 'handover', () => context.services.handovers.decline(input));
  }

  @FieldResolver(() => ClinicType, { description: 'The other clinic.' })
  clinic(@Root() handover: Handover): Clinic {
    return { slug: handover.remoteClinicSlug, name: handover.remoteClinicName };
  }

  @FieldResolver(() => String, { description: 'The conversation’s title.' })
  title(@Root() handover: Handover): string {
    return handover.offer.title;
  }

  @FieldResolver(() => String, { description: "The patient's name as the sending clinic shared it." })
  patientName(@Root() handover: Handover): string {
    return handover.offer.patient.name;
  }

  @FieldResolver(() => String, { nullable: true, description: 'The note for the receiving clinic.' })
  note(@Root() handover: Handover): string | null {
    return handover.offer.note;
  }

  @FieldResolver(() => HandoverConsentType, { description: "The patient's consent, as recorded." })
  consent(@Root() handover: Handover): HandoverConsentType {
    return { attestedBy: handover.consentAttestedBy, obtainedAt: handover.consentObtainedAt, method: handover.consentMethod };
  }

  @FieldResolver(() => [HandoverTranscriptMessageType], { description: 'The messages that go with it, oldest first.' })
  transcript(@Root() handover: Handover): HandoverTranscriptMessageType[] {
    return handover.offer.transcript.map((sent: HandoverOffer['transcript'][number]) => ({ ...sent, sentAt: new Date(sent.sentAt), fileNames: sent.files.map((file) => file.fileName) }));
  }

  @FieldResolver(() => Date, { nullable: true, description: 'When it was accepted or declined.' })
  decidedAt(@Root() handover: Handover): Date | null {
    return handover.decidedAt ?? null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Why it was declined.' })
  declineReason(@Root() handover: Handover): string | null {
    return handover.declineReason ?? null;
  }

  @FieldResolver(() => PatientType, { nullable: true, description: "INCOMING and pending: this clinic's patient whose shared identifier is the handed-over patient's, if any." })
  suggestedPatient(@Root() handover: Handover, @Ctx() { services }: Context) {
    if (handover.direction !== HandoverDirection.INCOMING || handover.status !== HandoverStatus.PENDING) return null;
    return services.handovers.suggestedPatient(handover.organisationId, handover);
  }

  @FieldResolver(() => PatientType, { nullable: true, description: 'INCOMING and accepted: the patient it was matched to or created as.' })
  patient(@Root() handover: Handover, @Ctx() { loaders }: Context) {
    return handover.direction === HandoverDirection.INCOMING && handover.patientId ? loaders.patient.load(handover.patientId) : null;
  }

  @FieldResolver(() => ChannelType, { nullable: true, description: 'OUTGOING: the conversation handed over; INCOMING: the conversation it became, once accepted. Null where the caller may not see it.' })
  async channel(@Root() handover: Handover, @Ctx() { services }: Context) {
    return handover.channelId ? ((await services.channels.findVisible(handover.channelId))?.channel ?? null) : null;
  }

  @FieldResolver(() => ChannelType, { nullable: true, description: 'The conversation between the two clinics about it (this clinic’s copy). Null where the caller may not see it.' })
  async clinicChannel(@Root() handover: Handover, @Ctx() { services }: Context) {
    return (await services.channels.findVisible(handover.clinicChannelId))?.channel ?? null;
  }
}
