import { Field, ObjectType } from 'type-graphql';

/** The author of a message written at another clinic: shown as "<name>, <clinic>", never as a member of this organisation. */
export class OtherClinicAuthor {
  constructor(
    readonly name: string,
    readonly clinicName: string,
  ) {}

  get displayName(): string {
    return `${this.name}, ${this.clinicName}`;
  }
}

@ObjectType('OtherClinicAuthor', { description: 'Someone at another clinic who wrote a message in a conversation between clinics (not a member of this organisation).' })
export class OtherClinicAuthorType {
  @Field(() => String, { description: 'Their name, as their clinic sent it.' })
  name!: string;

  @Field(() => String, { description: 'Their clinic’s name.' })
  clinicName!: string;

  @Field(() => String, { description: '"<name>, <clinic>": how to show them.' })
  displayName!: string;
}

export const otherClinicAuthorOf = (message: { remoteAuthorName?: string | null; remoteClinicName?: string | null }) =>
  message.remoteAuthorName ? new OtherClinicAuthor(message.remoteAuthorName, message.remoteClinicName ?? '') : null;
