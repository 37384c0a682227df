import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { connectionType } from '../../common/graphql-types';
import { MessageType } from '../messages/message.graphql';
import { ChannelKind, ChannelStatus } from './channel.entity';

registerEnumType(ChannelKind, {
  name: 'ChannelKind',
  description: 'What a channel is for and who can be in it.',
  valuesConfig: {
    CARE_TEAM: { description: "One patient and the team members involved in their care. The patient cannot leave." },
    SERVICE_TEAM: { description: 'One patient and operations or support staff. The patient cannot leave.' },
    STAFF: { description: 'Team members only, about one patient. Never visible to patients.' },
    GROUP: { description: 'Several patients and team members (group programmes). Managed with MESSAGING_MANAGEMENT.' },
    DIRECT: { description: 'Team members only, not about a patient.' },
    CONVERSATION: { description: 'A titled conversation with one patient that can be closed.' },
    CLINIC: { description: "A titled conversation with another clinic (this clinic's copy; team members only): see `otherClinic`." },
  },
});

registerEnumType(ChannelStatus, {
  name: 'ChannelStatus',
  description: 'Whether a channel accepts new messages.',
  valuesConfig: {
    ACTIVE: { description: 'Open for messages.' },
    CLOSED: { description: 'Closed: patients can no longer reply.' },
  },
});

@ObjectType('ChannelMember', { description: 'A person in a channel: a team member or a patient.' })
export class ChannelMemberType {
  @Field(() => ID, { description: 'Opaque id of the membership.' })
  id!: string;

  @Field(() => Date, { description: 'When they joined.' })
  joinedAt!: Date;
}

@ObjectType('ChannelMembership', { description: "The caller's own membership of a channel." })
export class ChannelMembershipType {
  @Field(() => Date, { description: 'When the caller joined.' })
  joinedAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the caller last marked the channel read; null if never.' })
  lastReadAt?: Date | null;

  @Field(() => Date, { nullable: true, description: 'When a mute ends; null while not muted or muted until unmuted.' })
  mutedUntil?: Date | null;
}

@ObjectType('Channel', { description: 'A place where people exchange messages.' })
export class ChannelType {
  @Field(() => ID, { description: 'Opaque id.' })
  id!: string;

  @Field(() => ChannelKind, { description: 'What kind of channel this is.' })
  kind!: ChannelKind;

  @Field(() => String, { nullable: true, description: 'Title (groups and conversations).' })
  title?: string | null;

  @Field(() => ChannelStatus, { description: 'Whether it accepts new messages.' })
  status!: ChannelStatus;

  @Field(() => Date, { description: 'When it was activated or created.' })
  createdAt!: Date;

  @Field(() => Date, { description: 'When something last happened in it; `channels` is sorted by this.' })
  lastActivityAt!: Date;

  @Field(() => Boolean, { description: 'Conversations: whether the patient may reply (CONVERSATION only; true for other kinds).' })
  patientCanReply!: boolean;

  @Field(() => Date, { nullable: true, description: 'Conversations: when it was closed; null while open.' })
  closedAt?: Date | null;
}

export const ChannelConnection = connectionType('Channel', ChannelType, 'channel');
export const ChannelMemberConnection = connectionType('ChannelMember', ChannelMemberType, 'channel member');
export const MessageConnection = connectionType('Message', MessageType, 'message');

@InputType({ description: 'Narrows the channel list.' })
export class ChannelFilterInput {
  @Field(() => ChannelKind, { nullable: true, description: 'Only channels of this kind.' })
  kind?: ChannelKind | null;

  @Field(() => ID, { nullable: true, description: 'Only channels about this patient.' })
  patientId?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'true: only the channels the caller archived; false or absent: only the others.' })
  archived?: boolean | null;
}
