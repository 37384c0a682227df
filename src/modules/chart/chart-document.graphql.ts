import { Arg, Args, Ctx, Field, FieldResolver, ID, InputType, Mutation, ObjectType, Query, Resolver, Root, registerEnumType } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload, connectionType } from '../../common/graphql-types';
import { mutationPayload } from '../../graphql/payload';
import { ForwardPageArgs, pageRequest } from '../../common/pagination';
import { chartPolicy } from '../../policy/chart';
import { AttachmentType } from '../attachments/attachment.graphql';
import type { Attachment } from '../attachments/attachment.entity';
import { PatientType } from '../directory/directory.types';
import { ChartDocument, ChartDocumentKind, ChartDocumentStatus } from './chart-document.entity';

registerEnumType(ChartDocumentKind, {
  name: 'ChartDocumentKind',
  description: 'What a chart document is.',
  valuesConfig: {
    LAB_RESULT: { description: 'A laboratory result.' },
    IMAGING: { description: 'An image or imaging report (X-ray, scan, photo).' },
    LETTER: { description: 'A letter (referral, discharge, correspondence).' },
    FORM: { description: 'A form (consent, questionnaire, intake).' },
    REPORT: { description: 'Another clinical report.' },
    OTHER: { description: 'Anything else.' },
  },
});

registerEnumType(ChartDocumentStatus, {
  name: 'ChartDocumentStatus',
  description: 'Whether a chart document may still be attached.',
  valuesConfig: {
    ACTIVE: { description: 'In the chart; staff may attach it.' },
    WITHDRAWN: { description: 'Withdrawn by the integration: no longer attached anywhere new; messages already sent keep it, marked withdrawn, until its file is removed.' },
  },
});

@ObjectType('ChartDocument', {
  description:
    "A document of a patient's chart, registered by a partner integration. Staff and integrations read the chart; patients see a document only where a team member attached it to a message they see (the staff-only fields are null for them).",
})
export class ChartDocumentType {
  @Field(() => ID, { description: 'Opaque id; pass it in `chartDocumentIds` of messageSend or conversationStart.' })
  id!: string;

  @Field(() => String, { description: 'Its title.' })
  title!: string;

  @Field(() => ChartDocumentKind, { description: 'What it is.' })
  kind!: ChartDocumentKind;

  @Field(() => Date, { description: 'The clinical date it is about (when the sample was taken, the letter written).' })
  clinicalDate!: Date;

  @Field(() => ChartDocumentStatus, { description: 'ACTIVE or WITHDRAWN.' })
  status!: ChartDocumentStatus;

  @Field(() => Date, { nullable: true, description: 'When it was withdrawn; null while ACTIVE.' })
  withdrawnAt?: Date | null;
}

export const ChartDocumentConnection = connectionType('ChartDocument', ChartDocumentType, 'chart document');

@InputType({ description: "A new document of a patient's chart." })
export class ChartDocumentRegisterInput {
  @Field(() => ID, { nullable: true, description: 'The patient (or give patientExternalId).' })
  patientId?: string | null;

  @Field(() => String, { nullable: true, description: "The patient's external id, as given to patientUpsert (or give patientId)." })
  patientExternalId?: string | null;

  @Field(() => ID, { description: 'Its file: an attachment of purpose CHART_DOCUMENT this integration uploaded (attachmentCreateUpload), READY (its content checked against its type).' })
  attachmentId!: string;

  @Field(() => String, { description: 'Its title, up to 200 characters.' })
  title!: string;

  @Field(() => ChartDocumentKind, { description: 'What it is.' })
  kind!: ChartDocumentKind;

  @Field(() => Date, { description: 'The clinical date it is about.' })
  clinicalDate!: Date;

  @Field(() => String, {
    nullable: true,
    description: "The integration's own id of it, unique in the organisation: registering again with the same external id, patient and file returns the same document (safe to retry); with another patient or file, EXTERNAL_ID_TAKEN.",
  })
  externalId?: string | null;
}

@InputType({ description: "Changes to a chart document's details; absent fields stay as they are. Its file never changes: withdraw it and register the corrected one." })
export class ChartDocumentUpdateInput {
  @Field(() => ID, { description: 'The document.' })
  chartDocumentId!: string;

  @Field(() => String, { nullable: true, description: 'A new title.' })
  title?: string | null;

  @Field(() => ChartDocumentKind, { nullable: true, description: 'A new kind.' })
  kind?: ChartDocumentKind | null;

  @Field(() => Date, { nullable: true, description: 'A new clinical date.' })
  clinicalDate?: Date | null;
}

@InputType({ description: 'A chart document to withdraw.' })
export class ChartDocumentWithdrawInput {
  @Field(() => ID, { description: 'The document.' })
  chartDocumentId!: string;

  @Field(() => String, { description: 'Why (kept on the document; up to 500 characters).' })
  reason!: string;

  @Field(() => Boolean, {
    nullable: true,
    description:
      'Remove its file now, from messages already sent too (a document filed to the wrong patient, say). Otherwise the file stays downloadable in those messages for CHART_WITHDRAWN_FILE_RETENTION_DAYS (default 30) after withdrawal, then is removed.',
  })
  removeFile?: boolean | null;
}

@ObjectType({ description: 'Result of chartDocumentRegister, chartDocumentUpdate or chartDocumentWithdraw.' })
export class ChartDocumentPayload extends MutationPayload {
  @Field(() => ChartDocumentType, { nullable: true, description: 'The document as it is now.' })
  chartDocument?: ChartDocument | null;
}

@Resolver(() => ChartDocumentType)
export class ChartDocumentResolver {
  @Query(() => ChartDocumentConnection, {
    description: "A patient's chart documents, newest clinical date first, ACTIVE only unless includeWithdrawn. Staff and integrations.",
  })
  chartDocuments(
    @Arg('patientId', () => ID, { description: 'The patient.' }) patientId: string,
    @Arg('kinds', () => [ChartDocumentKind], { nullable: true, description: 'Only these kinds.' }) kinds: ChartDocumentKind[] | null,
    @Arg('from', () => Date, { nullable: true, description: 'Clinical date on or after this.' }) from: Date | null,
    @Arg('to', () => Date, { nullable: true, description: 'Clinical date before this.' }) to: Date | null,
    @Arg('search', () => String, { nullable: true, description: 'Words in the title (up to 200 characters).' }) search: string | null,
    @Arg('includeWithdrawn', () => Boolean, { nullable: true, description: 'Withdrawn documents too.' }) includeWithdrawn: boolean | null,
    @Args(() => ForwardPageArgs) page: ForwardPageArgs,
    @Ctx() context: Context,
  ) {
    return context.services.chartDocuments.search({ patientId, kinds, from, to, text: search, includeWithdrawn, limit: pageRequest(page).limit, after: page.after });
  }

  @Mutation(() => ChartDocumentPayload, { description: "Registers a document in a patient's chart, with a file the integration uploaded. Integrations (service tokens)." })
  chartDocumentRegister(@Arg('input', () => ChartDocumentRegisterInput, { description: 'The document.' }) input: ChartDocumentRegisterInput, @Ctx() context: Context) {
    return mutationPayload(ChartDocumentPayload, 'chartDocument', () => context.services.chartDocuments.register(input));
  }

  @Mutation(() => ChartDocumentPayload, { description: "Changes a chart document's details (CHART_DOCUMENT_WITHDRAWN once withdrawn). Integrations (service tokens)." })
  chartDocumentUpdate(@Arg('input', () => ChartDocumentUpdateInput, { description: 'The changes.' }) input: ChartDocumentUpdateInput, @Ctx() context: Context) {
    return mutationPayload(ChartDocumentPayload, 'chartDocument', () => context.services.chartDocuments.update(input));
  }

  @Mutation(() => ChartDocumentPayload, {
    description: 'Withdraws a chart document: it can no longer be attached; messages already sent keep it, marked withdrawn, as long as its file is kept (see removeFile). Withdrawing again changes nothing. Integrations (service tokens).',
  })
  chartDocumentWithdraw(@Arg('input', () => ChartDocumentWithdrawInput, { description: 'The document and why.' }) input: ChartDocumentWithdrawInput, @Ctx() context: Context) {
    return mutationPayload(ChartDocumentPayload, 'chartDocument', () => context.services.chartDocuments.withdraw(input));
  }

  @FieldResolver(() => PatientType, { nullable: true, description: 'The patient whose chart it is. Staff and integrations; null for patients.' })
  patient(@Root() document: ChartDocument, @Ctx() { actor, loaders }: Context) {
    return chartPolicy.readsChart(actor) ? loaders.patient.load(document.patientId) : null;
  }

  @FieldResolver(() => AttachmentType, { nullable: true, description: "The chart's copy of its file (download URL included). Staff and integrations; null for patients and once the file was removed." })
  async file(@Root() document: ChartDocument, @Ctx() { actor, loaders }: Context) {
    if (!chartPolicy.readsChart(actor) || document.fileRemovedAt) return null;
    return (await loaders.attachment.load(document.fileAttachmentId)) ?? null;
  }

  @FieldResolver(() => String, { nullable: true, description: "The integration's own id of it. Staff and integrations; null for patients." })
  externalId(@Root() document: ChartDocument, @Ctx() { actor }: Context) {
    return chartPolicy.readsChart(actor) ? (document.externalId ?? null) : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Why it was withdrawn. Staff and integrations; null for patients.' })
  withdrawnReason(@Root() document: ChartDocument, @Ctx() { actor }: Context) {
    return chartPolicy.readsChart(actor) ? (document.withdrawnReason ?? null) : null;
  }

  @FieldResolver(() => Boolean, { description: 'Whether its file was removed (withdrawn with removeFile, or after the retention period).' })
  fileRemoved(@Root() document: ChartDocument): boolean {
    return Boolean(document.fileRemovedAt);
  }
}

@Resolver(() => AttachmentType)
export class AttachmentChartFieldResolver {
  @FieldResolver(() => ChartDocumentType, { nullable: true, description: "The chart document it was attached from (its status says whether it was withdrawn since); null for an uploaded file." })
  async chartDocument(@Root() attachment: Attachment, @Ctx() { loaders }: Context) {
    return attachment.chartDocumentId ? ((await loaders.chartDocument.load(attachment.chartDocumentId)) ?? null) : null;
  }
}
