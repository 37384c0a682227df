import { Arg, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, registerEnumType } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload } from '../../common/graphql-types';
import { mutationPayload } from '../../graphql/payload';
import { EmailNotificationMode, type NotificationPreferences, type PushSubscription } from './notification-preferences.service';
import { NotificationTemplateKind, type NotificationTemplate } from './notification-templates';

registerEnumType(EmailNotificationMode, {
  name: 'EmailNotificationMode',
  description: 'When a person gets emails about unread messages.',
  valuesConfig: {
    IMMEDIATE: { description: 'One email when a message is still unread after the delay (a burst of messages makes one email).' },
    DIGEST: { description: "One email a day, at the organisation's digest hour, when anything is unread." },
    OFF: { description: 'No emails.' },
  },
});

enum PushSubscriptionKind {
  WEB = 'WEB',
  MOBILE = 'MOBILE',
}
registerEnumType(PushSubscriptionKind, {
  name: 'PushSubscriptionKind',
  description: 'Where push notifications go.',
  valuesConfig: { WEB: { description: 'A browser, through Web Push (VAPID).' }, MOBILE: { description: "A mobile app, through the server's mobile push provider." } },
});

enum MobilePlatform {
  IOS = 'IOS',
  ANDROID = 'ANDROID',
}
registerEnumType(MobilePlatform, {
  name: 'MobilePlatform',
  description: 'The operating system of a mobile device.',
  valuesConfig: { IOS: { description: 'Apple iOS.' }, ANDROID: { description: 'Android.' } },
});

registerEnumType(NotificationTemplateKind, {
  name: 'NotificationTemplateKind',
  description: 'Which notice a template writes: its audience and transport.',
  valuesConfig: {
    PATIENT_EMAIL: { description: 'Email to a patient (or guardian) about unread messages.' },
    PATIENT_PUSH: { description: 'Push notification to a patient (or guardian).' },
    PATIENT_SMS: { description: 'Text message to a patient (or guardian).' },
    STAFF_EMAIL: { description: 'Email to a team member about unread messages.' },
    STAFF_PUSH: { description: 'Push notification to a team member.' },
    NEW_PATIENT_MESSAGE_EMAIL: { description: "Email to the role group (or a conversation's responders) about a patient message nobody has read." },
    NEW_PATIENT_MESSAGE_PUSH: { description: 'Push notification to the role group about a patient message nobody has read.' },
    NEW_CLINIC_MESSAGE_EMAIL: { description: "Email to the role group (or the responders) about another clinic's message nobody has read, in a conversation that clinic started." },
    NEW_CLINIC_MESSAGE_PUSH: { description: "Push notification to the role group (or the responders) about another clinic's message nobody has read." },
    DIGEST_EMAIL: { description: 'The daily digest email.' },
    WEBHOOK_DISABLED_EMAIL: { description: 'Email to messaging admins when a webhook endpoint is turned off after failing for long.' },
    ESCALATION_EMAIL: { description: "Email when a patient's message has had no reply by its response target: to the channel's team members (or the responders), later to the role group." },
    ESCALATION_PUSH: { description: "Push notification when a patient's message has had no reply by its response target." },
  },
});

@ObjectType('NotificationPreferences', { description: 'How and when a person is told of messages they have not read.' })
export class NotificationPreferencesType {
  @Field(() => EmailNotificationMode, { description: 'Emails about unread messages: after the delay, in a daily digest, or none.' })
  email!: EmailNotificationMode;

  @Field(() => Boolean, { description: 'Push notifications to registered devices.' })
  push!: boolean;

  @Field(() => Boolean, { description: 'Text messages (patients, where the organisation sends them and a phone is on file).' })
  sms!: boolean;

  @Field(() => Int, { description: 'Minutes a message waits unread before it is notified (the organisation default unless changed).' })
  delayMinutes!: number;

  @Field(() => Boolean, { description: "True while the delay is the organisation's default." })
  defaultDelay!: boolean;

  @Field(() => Date, { nullable: true, description: 'When the preferences were last changed; null while they are the defaults.' })
  updatedAt?: Date | null;
}

@InputType({ description: 'Changes to notification preferences; absent fields stay as they are.' })
export class NotificationPreferencesUpdateInput {
  @Field(() => ID, { nullable: true, description: "A patient's preferences instead of the caller's own (staff; a guardian for a dependant)." })
  patientId?: string | null;

  @Field(() => EmailNotificationMode, { nullable: true, description: 'Emails about unread messages.' })
  email?: EmailNotificationMode | null;

  @Field(() => Boolean, { nullable: true, description: 'Push notifications.' })
  push?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Text messages.' })
  sms?: boolean | null;

  @Field(() => Int, { nullable: true, description: 'Minutes a message waits unread before it is notified (0 to 1440).' })
  delayMinutes?: number | null;

  @Field(() => Boolean, { nullable: true, description: "True: go back to the organisation's default delay." })
  defaultDelay?: boolean | null;
}

@ObjectType({ description: 'Result of notificationPreferencesUpdate.' })
export class NotificationPreferencesUpdatePayload extends MutationPayload {
  @Field(() => NotificationPreferencesType, { nullable: true, description: 'The preferences as saved.' })
  notificationPreferences?: NotificationPreferences | null;
}

@ObjectType('PushSubscription', { description: 'A device registered for push notifications (its address and keys are never shown).' })
export class PushSubscriptionType {
  @Field(() => ID, { description: 'Opaque id; pass it to pushSubscriptionRemove.' })
  id!: string;

  @Field(() => PushSubscriptionKind, { description: 'Browser or mobile app.' })
  kind!: PushSubscriptionKind;

  @Field(() => MobilePlatform, { nullable: true, description: 'The mobile platform; null for a browser.' })
  platform?: string | null;

  @Field(() => Date, { description: 'When it was registered.' })
  createdAt!: Date;
}

@InputType({ description: "A browser's PushSubscription (from PushManager.subscribe with the server's webPushPublicKey)." })
export class WebPushSubscriptionInput {
  @Field(() => String, { description: "The push service endpoint (one of the browsers' push services)." })
  endpoint!: string;

  @Field(() => String, { description: "The subscription's p256dh key, base64url." })
  p256dh!: string;

  @Field(() => String, { description: "The subscription's auth secret, base64url." })
  auth!: string;
}

@InputType({ description: 'A mobile device token for the mobile push provider.' })
export class MobilePushSubscriptionInput {
  @Field(() => MobilePlatform, { description: 'The platform.' })
  platform!: MobilePlatform;

  @Field(() => String, { description: "The provider's device token." })
  token!: string;
}

@InputType({ description: 'One device: a browser or a mobile app.' })
export class PushSubscriptionRegisterInput {
  @Field(() => WebPushSubscriptionInput, { nullable: true, description: 'A browser.' })
  webPush?: WebPushSubscriptionInput | null;

  @Field(() => MobilePushSubscriptionInput, { nullable: true, description: 'A mobile app.' })
  mobile?: MobilePushSubscriptionInput | null;
}

@InputType({ description: 'A device to forget.' })
export class PushSubscriptionRemoveInput {
  @Field(() => ID, { description: 'The push subscription.' })
  pushSubscriptionId!: string;
}

@ObjectType({ description: 'Result of pushSubscriptionRegister or pushSubscriptionRemove.' })
export class PushSubscriptionPayload extends MutationPayload {
  @Field(() => PushSubscriptionType, { nullable: true, description: 'The device (as it was, for a removal).' })
  pushSubscription?: PushSubscription | null;
}

@ObjectType('NotificationTemplate', {
  description: 'What one kind of notice says. Placeholders: {{organisation.name}}, {{link}} and {{count}} only; nothing that could identify a patient or their care.',
})
export class NotificationTemplateType {
  @Field(() => NotificationTemplateKind, { description: 'The audience and transport.' })
  kind!: NotificationTemplateKind;

  @Field(() => String, { description: 'Email subject or push title; empty for SMS.' })
  subject!: string;

  @Field(() => String, { description: 'The text (email plain-text part, push body, or SMS).' })
  text!: string;

  @Field(() => String, { description: 'The email HTML part (values are HTML-escaped when filled in); empty: plain text only.' })
  html!: string;

  @Field(() => Boolean, { description: "False while it is the built-in default." })
  customised!: boolean;

  @Field(() => Date, { nullable: true, description: 'When it was last customised.' })
  updatedAt?: Date | null;
}

@InputType({ description: 'A customised notification template.' })
export class NotificationTemplateUpdateInput {
  @Field(() => NotificationTemplateKind, { description: 'Which template.' })
  kind!: NotificationTemplateKind;

  @Field(() => String, { nullable: true, description: 'Email subject or push title (required for those; none for SMS).' })
  subject?: string | null;

  @Field(() => String, { description: 'The text.' })
  text!: string;

  @Field(() => String, { nullable: true, description: 'The email HTML part (emails only).' })
  html?: string | null;
}

@InputType({ description: 'A template to restore to its default.' })
export class NotificationTemplateResetInput {
  @Field(() => NotificationTemplateKind, { description: 'Which template.' })
  kind!: NotificationTemplateKind;
}

@ObjectType({ description: 'Result of notificationTemplateUpdate or notificationTemplateReset.' })
export class NotificationTemplatePayload extends MutationPayload {
  @Field(() => NotificationTemplateType, { nullable: true, description: 'The template as it now is.' })
  notificationTemplate?: NotificationTemplate | null;
}

@Resolver()
export class NotificationResolver {
  @Query(() => NotificationPreferencesType, {
    nullable: true,
    description: "The caller's notification preferences, or a patient's with `patientId` (staff; a guardian for a dependant); null when not visible. Staff and patients.",
  })
  notificationPreferences(@Arg('patientId', () => ID, { nullable: true, description: 'A patient instead of the caller.' }) patientId: string | null | undefined, @Ctx() context: Context) {
    return context.services.notificationPreferences.read(patientId);
  }

  @Mutation(() => NotificationPreferencesUpdatePayload, {
    description: "Changes the caller's notification preferences, or a patient's with `patientId` (staff; a guardian for a dependant). Staff and patients.",
  })
  notificationPreferencesUpdate(@Arg('input', () => NotificationPreferencesUpdateInput, { description: 'The changes.' }) input: NotificationPreferencesUpdateInput, @Ctx() context: Context) {
    return mutationPayload(NotificationPreferencesUpdatePayload, 'notificationPreferences', () => context.services.notificationPreferences.update(input));
  }

  @Query(() => String, { nullable: true, description: 'The VAPID public key browsers subscribe with (applicationServerKey); null when web push is not set up. Staff and patients.' })
  webPushPublicKey(@Ctx() context: Context) {
    return context.services.notificationPreferences.webPushPublicKey();
  }

  @Mutation(() => PushSubscriptionPayload, { description: "Registers one of the caller's devices for push notifications. Staff and patients." })
  pushSubscriptionRegister(@Arg('input', () => PushSubscriptionRegisterInput, { description: 'The device.' }) input: PushSubscriptionRegisterInput, @Ctx() context: Context) {
    return mutationPayload(PushSubscriptionPayload, 'pushSubscription', () => context.services.notificationPreferences.registerPush(input));
  }

  @Mutation(() => PushSubscriptionPayload, { description: "Forgets one of the caller's devices. Staff and patients." })
  pushSubscriptionRemove(@Arg('input', () => PushSubscriptionRemoveInput, { description: 'The device.' }) input: PushSubscriptionRemoveInput, @Ctx() context: Context) {
    return mutationPayload(PushSubscriptionPayload, 'pushSubscription', () => context.services.notificationPreferences.removePush(input));
  }

  @Query(() => [NotificationTemplateType], { description: "Every notification template, the organisation's customised ones and the defaults. Staff with MESSAGING_ADMIN." })
  notificationTemplates(@Ctx() context: Context) {
    return context.services.notificationTemplates.list();
  }

  @Mutation(() => NotificationTemplatePayload, { description: 'Customises a notification template. Staff with MESSAGING_ADMIN.' })
  notificationTemplateUpdate(@Arg('input', () => NotificationTemplateUpdateInput, { description: 'The template.' }) input: NotificationTemplateUpdateInput, @Ctx() context: Context) {
    return mutationPayload(NotificationTemplatePayload, 'notificationTemplate', () => context.services.notificationTemplates.update(input));
  }

  @Mutation(() => NotificationTemplatePayload, { description: 'Restores a notification template to its default. Staff with MESSAGING_ADMIN.' })
  notificationTemplateReset(@Arg('input', () => NotificationTemplateResetInput, { description: 'The template.' }) input: NotificationTemplateResetInput, @Ctx() context: Context) {
    return mutationPayload(NotificationTemplatePayload, 'notificationTemplate', () => context.services.notificationTemplates.reset(input));
  }
}
