import { Arg, Ctx, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, Root, registerEnumType } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayload } from '../../graphql/payload';
import { TeamMemberType } from '../directory/directory.types';
import { activeTeamMembers } from '../directory/active-people';
import { ResponseTimeBasisEnum } from '../escalation/urgency.graphql';
import type { ResponseTimeBasis } from '../escalation/due-time';
import { GROUP_HISTORY, WEEKDAYS, type GroupHistory, type MessagingSettings, type Weekday } from './messaging-settings.service';

/** The weekdays of the settings, as a GraphQL enum (the values are the names). */
const WeekdayEnum = Object.fromEntries(WEEKDAYS.map((day) => [day, day])) as { [Day in Weekday]: Day };
registerEnumType(WeekdayEnum, {
  name: 'Weekday',
  description: 'A day of the week.',
  valuesConfig: Object.fromEntries(WEEKDAYS.map((day) => [day, { description: day.charAt(0) + day.slice(1).toLowerCase() }])),
});

const GroupHistoryEnum = Object.fromEntries(GROUP_HISTORY.map((value) => [value, value])) as { [Value in GroupHistory]: Value };
registerEnumType(GroupHistoryEnum, {
  name: 'GroupHistory',
  description: 'What a patient added to a group sees of the messages written before they joined.',
  valuesConfig: {
    FROM_JOINING: { description: 'Only what is written from their joining (other patients’ earlier messages stay theirs).' },
    EVERYTHING: { description: 'Every earlier message of the group.' },
  },
});

@ObjectType('OpeningHours', { description: 'When the organisation answers on one day, in the settings’ time zone.' })
export class OpeningHoursType {
  @Field(() => WeekdayEnum, { description: 'The day.' })
  day!: Weekday;

  @Field(() => String, { description: 'Opens at, HH:MM (24-hour).' })
  opens!: string;

  @Field(() => String, { description: 'Closes at, HH:MM (24-hour, 24:00 for midnight).' })
  closes!: string;
}

@InputType({ description: 'When the organisation answers on one day.' })
export class OpeningHoursInput {
  @Field(() => WeekdayEnum, { description: 'The day.' })
  day!: Weekday;

  @Field(() => String, { description: 'Opens at, HH:MM.' })
  opens!: string;

  @Field(() => String, { description: 'Closes at, HH:MM, after it opens.' })
  closes!: string;
}

@ObjectType('MessagingSettings', { description: "Who may message whom in the organisation. Read by staff and services; changed with MESSAGING_ADMIN." })
export class MessagingSettingsType {
  @Field(() => Boolean, { description: 'Team members may start conversations with patients (conversationStart).' })
  staffCanStartConversations!: boolean;

  @Field(() => Boolean, { description: 'Every team member may start them; otherwise only `conversationStarters`.' })
  allStaffCanStartConversations!: boolean;

  @Field(() => Boolean, { description: 'Patients may start conversations with the organisation.' })
  patientsCanStartConversations!: boolean;

  @Field(() => Boolean, {
    description:
      'Other clinics on the platform may start conversations with the organisation and hand patient conversations over to it; the organisation is then listed in their clinicDirectory (name and slug only). Off by default. The responders answer them.',
  })
  clinicsCanStartConversations!: boolean;

  @Field(() => Boolean, {
    description: "Every team member may respond to patient-started conversations (the patient's allocation clinician is added); otherwise `responders` are added.",
  })
  allStaffRespond!: boolean;

  @Field(() => String, { description: 'The role group notified of new patient messages (default "Appointment Reminder Admin").' })
  newPatientMessageRoleGroup!: string;

  @Field(() => Boolean, { description: 'Default of `patientCanReply` for conversations staff start.' })
  patientCanReplyDefault!: boolean;

  @Field(() => GroupHistoryEnum, { description: 'What a patient added to a group sees of the messages written before they joined (staff always see all).' })
  groupHistory!: GroupHistory;

  @Field(() => Boolean, { description: 'Patients may attach files to their messages.' })
  patientUploadsAllowed!: boolean;

  @Field(() => [String], { description: 'The file types (MIME) patients may upload when allowed.' })
  patientUploadTypes!: string[];

  @Field(() => Boolean, { description: 'Messaging is enabled for every patient category; otherwise only for `messagingPatientCategories`.' })
  messagingForAllPatientCategories!: boolean;

  @Field(() => [String], { description: 'Patient categories (charge bands) with messaging enabled, when not all are.' })
  messagingPatientCategories!: string[];

  @Field(() => Boolean, { description: 'Patients get an email when staff reply.' })
  patientEmailOnStaffReply!: boolean;

  @Field(() => String, { nullable: true, description: 'Automatic reply to a patient who starts a conversation; null: none.' })
  autoReplyNewConversation?: string | null;

  @Field(() => String, { nullable: true, description: 'Automatic reply to a patient who writes outside the opening hours; null: none.' })
  autoReplyOutsideHours?: string | null;

  @Field(() => Int, { description: 'At most one automatic reply per conversation or channel in this many hours.' })
  autoReplyPeriodHours!: number;

  @Field(() => [OpeningHoursType], { description: 'Opening hours; none means always open (no out-of-hours replies).' })
  openingHours!: OpeningHoursType[];

  @Field(() => String, { description: 'The IANA time zone of the opening hours, e.g. Europe/London.' })
  timeZone!: string;

  @Field(() => Boolean, { description: 'The organisation texts patients (SMS) about new messages, where a phone is on file and the patient allows it.' })
  smsNotificationsEnabled!: boolean;

  @Field(() => Int, { description: 'Minutes a message waits unread before a team member is notified, unless they chose otherwise.' })
  staffNotificationDelayMinutes!: number;

  @Field(() => Int, { description: 'Minutes a message waits unread before a patient is notified, unless they chose otherwise.' })
  patientNotificationDelayMinutes!: number;

  @Field(() => Int, { description: 'The local hour (0-23, in `timeZone`) daily digests are sent at.' })
  notificationDigestHour!: number;

  @Field(() => String, { nullable: true, description: "The patient portal's address that links in patient notices open; null: the server's default." })
  patientPortalUrl?: string | null;

  @Field(() => String, { nullable: true, description: "The clinical portal's address that links in staff notices open; null: the server's default." })
  staffPortalUrl?: string | null;

  @Field(() => Int, { nullable: true, description: "Minutes within which a patient's ROUTINE message should have a staff reply (counted per `responseTimeBasis`); past it the conversation escalates. Null: no target." })
  routineResponseMinutes?: number | null;

  @Field(() => Int, { nullable: true, description: "Minutes within which a patient's URGENT message should have a staff reply. Null: no target." })
  urgentResponseMinutes?: number | null;

  @Field(() => ResponseTimeBasisEnum, { description: 'Whether response targets count opening hours only or every minute.' })
  responseTimeBasis!: ResponseTimeBasis;

  @Field(() => Int, {
    nullable: true,
    description: 'Minutes after the first escalation (the channel’s team members, or the responders) that the role group in `newPatientMessageRoleGroup` is told too, if still unanswered. Null: no second escalation.',
  })
  secondEscalationMinutes?: number | null;

  @Field(() => Boolean, { description: 'Patients may mark their messages URGENT (otherwise URGENCY_NOT_ALLOWED).' })
  patientsCanMarkUrgent!: boolean;

  @Field(() => Date, { nullable: true, description: 'When the settings were last changed; null while they are the defaults.' })
  updatedAt?: Date | null;
}

@InputType({ description: 'Changes to the messaging settings; absent fields stay as they are.' })
export class MessagingSettingsUpdateInput {
  @Field(() => Boolean, { nullable: true, description: 'Team members may start conversations with patients.' })
  staffCanStartConversations?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Every team member may start them; false: only the listed starters.' })
  allStaffCanStartConversations?: boolean | null;

  @Field(() => [ID], { nullable: true, description: 'The team members who may start conversations when not all may (replaces the list).' })
  conversationStarterTeamMemberIds?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: 'Patients may start conversations with the organisation.' })
  patientsCanStartConversations?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Other clinics may start conversations with the organisation and hand patients over to it (listed in their clinicDirectory).' })
  clinicsCanStartConversations?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Every team member responds to patient-started conversations; false: only the listed responders.' })
  allStaffRespond?: boolean | null;

  @Field(() => [ID], { nullable: true, description: 'The team members who respond to patient-started conversations when not all do (replaces the list).' })
  responderTeamMemberIds?: string[] | null;

  @Field(() => String, { nullable: true, description: 'The role group notified of new patient messages.' })
  newPatientMessageRoleGroup?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Default of `patientCanReply` for conversations staff start.' })
  patientCanReplyDefault?: boolean | null;

  @Field(() => GroupHistoryEnum, { nullable: true, description: 'What a patient added to a group sees of the messages written before they joined.' })
  groupHistory?: GroupHistory | null;

  @Field(() => Boolean, { nullable: true, description: 'Patients may attach files to their messages.' })
  patientUploadsAllowed?: boolean | null;

  @Field(() => [String], { nullable: true, description: 'Among application/pdf, image/jpeg, image/png, image/gif, image/webp, video/mp4, video/quicktime.' })
  patientUploadTypes?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: 'Messaging for every patient category; false: only the listed categories.' })
  messagingForAllPatientCategories?: boolean | null;

  @Field(() => [String], { nullable: true, description: 'Replaces the list of categories with messaging enabled.' })
  messagingPatientCategories?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: 'Patients get an email when staff reply.' })
  patientEmailOnStaffReply?: boolean | null;

  @Field(() => String, { nullable: true, description: 'Automatic reply to a new patient conversation; an empty text turns it off.' })
  autoReplyNewConversation?: string | null;

  @Field(() => String, { nullable: true, description: 'Automatic reply outside opening hours; an empty text turns it off.' })
  autoReplyOutsideHours?: string | null;

  @Field(() => Int, { nullable: true, description: 'At most one automatic reply per channel in this many hours (1 to 720).' })
  autoReplyPeriodHours?: number | null;

  @Field(() => [OpeningHoursInput], { nullable: true, description: 'Replaces the opening hours; an empty list means always open.' })
  openingHours?: OpeningHoursInput[] | null;

  @Field(() => String, { nullable: true, description: 'The IANA time zone of the opening hours.' })
  timeZone?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Text patients (SMS) about new messages.' })
  smsNotificationsEnabled?: boolean | null;

  @Field(() => Int, { nullable: true, description: 'Minutes a message waits unread before a team member is notified (0 to 1440).' })
  staffNotificationDelayMinutes?: number | null;

  @Field(() => Int, { nullable: true, description: 'Minutes a message waits unread before a patient is notified (0 to 1440).' })
  patientNotificationDelayMinutes?: number | null;

  @Field(() => Int, { nullable: true, description: 'The local hour (0-23) daily digests are sent at.' })
  notificationDigestHour?: number | null;

  @Field(() => String, { nullable: true, description: "The patient portal's address for links in notices; an empty text restores the default." })
  patientPortalUrl?: string | null;

  @Field(() => String, { nullable: true, description: "The clinical portal's address for links in notices; an empty text restores the default." })
  staffPortalUrl?: string | null;

  @Field(() => Int, { nullable: true, description: 'Response target for ROUTINE patient messages in minutes (1 to 43200); 0 removes it.' })
  routineResponseMinutes?: number | null;

  @Field(() => Int, { nullable: true, description: 'Response target for URGENT patient messages in minutes (1 to 43200); 0 removes it.' })
  urgentResponseMinutes?: number | null;

  @Field(() => ResponseTimeBasisEnum, { nullable: true, description: 'Count response targets in opening hours or around the clock.' })
  responseTimeBasis?: ResponseTimeBasis | null;

  @Field(() => Int, { nullable: true, description: 'Minutes from the first escalation to the second, to the role group (1 to 43200); 0 removes it.' })
  secondEscalationMinutes?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'Patients may mark messages URGENT.' })
  patientsCanMarkUrgent?: boolean | null;
}

@ObjectType({ description: 'Result of messagingSettingsUpdate.' })
export class MessagingSettingsUpdatePayload extends MutationPayload {
  @Field(() => MessagingSettingsType, { nullable: true, description: 'The settings as saved.' })
  settings?: MessagingSettings | null;
}

@Resolver(() => MessagingSettingsType)
export class MessagingSettingsResolver {
  @Query(() => MessagingSettingsType, { description: "The organisation's messaging settings. Staff and services (patients see what they may do on `me`)." })
  messagingSettings(@Ctx() context: Context) {
    return context.services.messagingSettings.read();
  }

  @Mutation(() => MessagingSettingsUpdatePayload, { description: 'Changes the messaging settings. Staff with MESSAGING_ADMIN.' })
  messagingSettingsUpdate(@Arg('input', () => MessagingSettingsUpdateInput, { description: 'The fields to change.' }) input: MessagingSettingsUpdateInput, @Ctx() context: Context) {
    return mutationPayload(MessagingSettingsUpdatePayload, 'settings', () => context.services.messagingSettings.update(input));
  }

  @FieldResolver(() => [TeamMemberType], { description: 'Who may start conversations when not all may (archived ones left out).' })
  conversationStarters(@Root() settings: MessagingSettings, @Ctx() context: Context) {
    return activeTeamMembers(context.loaders.teamMember, settings.conversationStarterIds);
  }

  @FieldResolver(() => [TeamMemberType], { description: 'Who responds to patient-started conversations when not all do (archived ones left out).' })
  responders(@Root() settings: MessagingSettings, @Ctx() context: Context) {
    return activeTeamMembers(context.loaders.teamMember, settings.responderIds);
  }
}
