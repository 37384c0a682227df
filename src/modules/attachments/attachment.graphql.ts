import { Arg, Ctx, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Resolver, Root, registerEnumType } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayloadOf } from '../../graphql/payload';
import { Attachment, AttachmentPurpose, AttachmentStatus } from './attachment.entity';

registerEnumType(AttachmentPurpose, {
  name: 'AttachmentPurpose',
  description: 'What an uploaded file is for.',
  valuesConfig: {
    MESSAGE: { description: 'To attach to a message.' },
    AVATAR: { description: "A patient's or team member's own avatar (profileUpdate)." },
    CHART_DOCUMENT: { description: "The file of a patient's chart document (partner integrations; chartDocumentRegister)." },
  },
});

registerEnumType(AttachmentStatus, {
  name: 'AttachmentStatus',
  description: 'Where an upload stands.',
  valuesConfig: {
    PENDING: { description: 'Waiting for its bytes at the upload URL.' },
    UPLOADING: { description: 'Its bytes are arriving.' },
    READY: { description: 'Received and checked: its content is of the declared type, within the size.' },
    REJECTED: { description: 'Its bytes were refused (another type than declared, or too large); upload again.' },
    DELETED: { description: "Its bytes were removed: its message was deleted, or the chart document it came from was withdrawn and its file removed." },
  },
});

@ObjectType('Attachment', { description: 'A file: an image, a video or a document.' })
export class AttachmentType {
  @Field(() => ID, { description: 'Opaque id; pass it in `attachmentIds` once READY.' })
  id!: string;

  @Field(() => String, { description: 'The file name as given by the uploader.' })
  fileName!: string;

  @Field(() => AttachmentStatus, { description: 'Where the upload stands.' })
  status!: AttachmentStatus;
}

@InputType({ description: 'A file about to be uploaded.' })
export class AttachmentCreateUploadInput {
  @Field(() => String, { description: 'Its name (no path), up to 255 characters.' })
  fileName!: string;

  @Field(() => String, { description: 'Its type: application/pdf, image/jpeg, image/png, image/gif, image/webp, video/mp4 or video/quicktime (UNSUPPORTED_FILE_TYPE otherwise). The content is checked against it.' })
  contentType!: string;

  @Field(() => Int, { description: 'Its size in bytes, within the server limit (FILE_TOO_LARGE); more bytes are refused.' })
  size!: number;

  @Field(() => AttachmentPurpose, { nullable: true, description: 'MESSAGE (default) or AVATAR (patients and team members, images).' })
  purpose?: AttachmentPurpose | null;
}

@ObjectType({ description: 'Result of attachmentCreateUpload.' })
export class AttachmentCreateUploadPayload extends MutationPayload {
  @Field(() => AttachmentType, { nullable: true, description: 'The attachment, PENDING until its bytes arrive.' })
  attachment?: Attachment | null;

  @Field(() => String, {
    nullable: true,
    description: 'Send the bytes with `PUT` to this URL (on this server; relative unless PUBLIC_URL is set), as the raw request body. 200 when accepted; 413 larger than declared; 415 content not of the declared type (FILE_TYPE_MISMATCH); 403 expired.',
  })
  uploadUrl?: string | null;

  @Field(() => Date, { nullable: true, description: 'When the upload URL stops working.' })
  uploadExpiresAt?: Date | null;
}

@Resolver(() => AttachmentType)
export class AttachmentResolver {
  @Mutation(() => AttachmentCreateUploadPayload, {
    description:
      "Starts an upload: returns a short-lived URL for the file's bytes. Staff; patients where the organisation's settings allow uploads of that type (FORBIDDEN, UNSUPPORTED_FILE_TYPE), and for their avatar.",
  })
  attachmentCreateUpload(@Arg('input', () => AttachmentCreateUploadInput, { description: 'The file to upload.' }) input: AttachmentCreateUploadInput, @Ctx() context: Context) {
    return mutationPayloadOf(AttachmentCreateUploadPayload, () => context.services.attachments.createUpload(input));
  }

  @FieldResolver(() => String, { description: 'The type its content shows (the declared type until it is READY).' })
  contentType(@Root() attachment: Attachment): string {
    return attachment.contentType ?? attachment.declaredType;
  }

  @FieldResolver(() => Int, { description: 'Its size in bytes (the declared size until it is READY).' })
  size(@Root() attachment: Attachment): number {
    return attachment.sizeBytes ?? attachment.declaredBytes;
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: 'A short-lived download URL (FILE_URL_TTL_SECONDS, default 5 minutes); ask again for a fresh one. Null until READY.',
  })
  url(@Root() attachment: Attachment, @Ctx() { services }: Context): string | null {
    return attachment.status === AttachmentStatus.READY ? services.attachments.downloadUrl(attachment).url : null;
  }
}
