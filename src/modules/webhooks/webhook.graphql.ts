import { Arg, Args, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, registerEnumType } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { MutationPayload, connectionType } from '../../common/graphql-types';
import { mutationPayload, mutationPayloadOf } from '../../graphql/payload';
import { ForwardPageArgs, pageRequest } from '../../common/pagination';
import { WebhookEventType } from './webhook-events';
import { WebhookDeliveryStatus, type WebhookDelivery, type WebhookEndpoint } from './webhook.service';

registerEnumType(WebhookEventType, {
  name: 'WebhookEventType',
  description: 'What a webhook endpoint subscribes to. The payload’s `type` is the same name, dotted and in lower case (`message.sent`).',
  valuesConfig: {
    MESSAGE_SENT: { description: 'A message was sent in a channel (`internal`: a staff-only note).' },
    MESSAGE_EDITED: { description: 'A message was edited.' },
    MESSAGE_DELETED: { description: 'A message was deleted.' },
    MEMBER_ADDED: { description: 'A person joined or was added to a channel.' },
    MEMBER_REMOVED: { description: 'A person left or was removed from a channel.' },
    CONVERSATION_STARTED: { description: 'A conversation (with a patient or another clinic) was started.' },
    CONVERSATION_CLOSED: { description: 'A conversation was closed.' },
    CONVERSATION_HANDED_OVER: { description: 'Another clinic accepted the handover of a conversation (`toClinic`).' },
    CONVERSATION_ESCALATED: { description: 'A patient’s message was not answered by its response target and was escalated.' },
    NOTIFICATION_FAILED: { description: 'A notice (email, push, SMS) could not be sent after its last attempt: the recipient’s id, the transport and a reason code.' },
  },
});

registerEnumType(WebhookDeliveryStatus, {
  name: 'WebhookDeliveryStatus',
  description: 'Where a delivery stands.',
  valuesConfig: {
    PENDING: { description: 'Waiting to be sent, or to be retried (`nextAttemptAt`).' },
    DELIVERED: { description: 'The endpoint answered 2xx.' },
    DEAD: { description: 'Every attempt failed; it is not retried unless replayed (webhookDeliveryReplay).' },
  },
});

@ObjectType('WebhookEndpoint', {
  description:
    'Where an organisation’s events are POSTed, signed as Standard Webhooks describes (`webhook-id`, `webhook-timestamp`, `webhook-signature`: HMAC-SHA256 with the endpoint’s secret). Events are sent in order, at least once: receivers drop repeats by `webhook-id`.',
})
export class WebhookEndpointType {
  @Field(() => ID, { description: 'Opaque id.' })
  id!: string;

  @Field(() => String, { description: 'The URL (https in production; it must reach a public address).' })
  url!: string;

  @Field(() => String, { description: 'What it is for (free text).' })
  description!: string;

  @Field(() => [WebhookEventType], { description: 'The events sent to it.' })
  eventTypes!: WebhookEventType[];

  @Field(() => Boolean, {
    description:
      'Whether payloads carry content: message text and author names, conversation titles (read when sent). WARNING: content is health information; turn this on only for a receiver under the same data protection agreement as this service. Off: ids, kinds and times only.',
  })
  includeContent!: boolean;

  @Field(() => Boolean, { description: 'Whether events are sent to it. A disabled endpoint gets no new events; what was waiting is sent once it is enabled again.' })
  enabled!: boolean;

  @Field(() => String, { nullable: true, description: '`MANUAL` (turned off through the API) or `FAILING` (turned off after failing for long; messaging admins were emailed).' })
  disabledReason?: string | null;

  @Field(() => Date, { nullable: true, description: 'When it was turned off.' })
  disabledAt?: Date | null;

  @Field(() => Int, { description: 'Failed attempts in a row (0 after a success).' })
  failureStreak!: number;

  @Field(() => Date, { nullable: true, description: 'Since when it has failed without a success.' })
  failingSince?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Until when the previous secret still signs too (after a rotation).' })
  previousSecretExpiresAt?: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the secret was last rotated.' })
  secretRotatedAt?: Date | null;

  @Field(() => Date, { description: 'When it was registered.' })
  createdAt!: Date;

  @Field(() => Date, { description: 'When it was last changed.' })
  updatedAt!: Date;
}

@ObjectType('WebhookDelivery', { description: 'One event sent (or to be sent) to one endpoint.' })
export class WebhookDeliveryType {
  @Field(() => ID, { description: 'Opaque id (pass it to webhookDeliveryReplay).' })
  id!: string;

  @Field(() => ID, { description: 'The endpoint.' })
  endpointId!: string;

  @Field(() => String, { description: 'The `webhook-id` header: the same for every attempt and replay of this event.' })
  eventId!: string;

  @Field(() => WebhookEventType, { description: 'What happened.' })
  eventType!: WebhookEventType;

  @Field(() => Date, { description: 'When it happened.' })
  occurredAt!: Date;

  @Field(() => String, { description: 'The `data` of the payload as JSON (ids, kinds, times; content is added when sent to endpoints that opted in, and never stored here).' })
  payload!: string;

  @Field(() => WebhookDeliveryStatus, { description: 'Pending, delivered or dead.' })
  status!: WebhookDeliveryStatus;

  @Field(() => Int, { description: 'Attempts made.' })
  attempts!: number;

  @Field(() => Date, { nullable: true, description: 'When it is tried next (pending only).' })
  nextAttemptAt?: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it was last tried.' })
  lastAttemptAt?: Date | null;

  @Field(() => Int, { nullable: true, description: 'The HTTP status of the last answer.' })
  lastStatusCode?: number | null;

  @Field(() => String, {
    nullable: true,
    description: 'Why the last attempt failed: `HTTP_STATUS`, `REDIRECT_NOT_FOLLOWED`, `TIMEOUT`, `CONNECTION_FAILED`, `PRIVATE_ADDRESS`, `UNRESOLVABLE`, `NOT_HTTPS`, `BAD_URL`.',
  })
  lastError?: string | null;

  @Field(() => Date, { nullable: true, description: 'When the endpoint accepted it.' })
  deliveredAt?: Date | null;

  @Field(() => ID, { nullable: true, description: 'The delivery this one replays.' })
  replayOf?: string | null;

  @Field(() => Date, { description: 'When it was queued.' })
  createdAt!: Date;
}

export const WebhookDeliveryConnection = connectionType('WebhookDelivery', WebhookDeliveryType, 'webhook delivery');

@InputType({ description: 'A new webhook endpoint.' })
export class WebhookEndpointCreateInput {
  @Field(() => String, { description: 'Where to POST (https in production; a public address).' })
  url!: string;

  @Field(() => String, { nullable: true, description: 'What it is for.' })
  description?: string | null;

  @Field(() => [WebhookEventType], { description: 'The events to send (at least one).' })
  eventTypes!: WebhookEventType[];

  @Field(() => Boolean, { nullable: true, description: 'Send content (message text, names, titles) besides ids. Default false. WARNING: content is health information.' })
  includeContent?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Default true.' })
  enabled?: boolean | null;
}

@InputType({ description: 'Changes to a webhook endpoint; absent fields stay as they are.' })
export class WebhookEndpointUpdateInput {
  @Field(() => ID, { description: 'The endpoint.' })
  endpointId!: string;

  @Field(() => String, { nullable: true, description: 'A new URL.' })
  url?: string | null;

  @Field(() => String, { nullable: true, description: 'A new description.' })
  description?: string | null;

  @Field(() => [WebhookEventType], { nullable: true, description: 'The events to send from now on.' })
  eventTypes?: WebhookEventType[] | null;

  @Field(() => Boolean, { nullable: true, description: 'Send content besides ids. WARNING: content is health information.' })
  includeContent?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Turn it on (clears its failure streak) or off.' })
  enabled?: boolean | null;
}

@InputType({ description: 'A webhook endpoint.' })
export class WebhookEndpointDeleteInput {
  @Field(() => ID, { description: 'The endpoint (its deliveries go with it).' })
  endpointId!: string;
}

@InputType({ description: 'A webhook endpoint whose secret to replace.' })
export class WebhookEndpointRotateSecretInput {
  @Field(() => ID, { description: 'The endpoint.' })
  endpointId!: string;

  @Field(() => Int, { nullable: true, description: 'For how many minutes the previous secret still signs (a second signature in `webhook-signature`). Default 1440 (a day); at most 10080.' })
  overlapMinutes?: number | null;
}

@InputType({ description: 'A delivery to send again.' })
export class WebhookDeliveryReplayInput {
  @Field(() => ID, { description: 'The delivery.' })
  deliveryId!: string;
}

@ObjectType({ description: 'Result of the webhookEndpoint mutations.' })
export class WebhookEndpointPayload extends MutationPayload {
  @Field(() => WebhookEndpointType, { nullable: true, description: 'The endpoint (as it was, for a delete).' })
  webhookEndpoint?: WebhookEndpoint | null;

  @Field(() => String, { nullable: true, description: 'The signing secret (`whsec_…`): shown only by webhookEndpointCreate and webhookEndpointRotateSecret. Keep it safe.' })
  secret?: string | null;
}

@ObjectType({ description: 'Result of webhookDeliveryReplay.' })
export class WebhookDeliveryPayload extends MutationPayload {
  @Field(() => WebhookDeliveryType, { nullable: true, description: 'The new delivery (same event id).' })
  webhookDelivery?: WebhookDelivery | null;
}

const MANAGERS = 'Staff with MESSAGING_ADMIN, or an integration (service token).';

@Resolver(() => WebhookEndpointType)
export class WebhookResolver {
  @Query(() => [WebhookEndpointType], { description: `The organisation’s webhook endpoints, oldest first. ${MANAGERS}` })
  webhookEndpoints(@Ctx() context: Context) {
    return context.services.webhooks.list();
  }

  @Query(() => WebhookDeliveryConnection, { description: `An endpoint’s deliveries, newest first. ${MANAGERS}` })
  webhookDeliveries(
    @Arg('endpointId', () => ID, { description: 'The endpoint.' }) endpointId: string,
    @Arg('status', () => WebhookDeliveryStatus, { nullable: true, description: 'Only deliveries in this state.' }) status: WebhookDeliveryStatus | null,
    @Args(() => ForwardPageArgs) page: ForwardPageArgs,
    @Ctx() context: Context,
  ) {
    return context.services.webhooks.deliveries(endpointId, status, pageRequest(page).limit, page.after);
  }

  @Mutation(() => WebhookEndpointPayload, { description: `Registers an endpoint; its signing secret is in the payload, once. The URL must reach a public address (checked now and at every send). ${MANAGERS}` })
  webhookEndpointCreate(@Arg('input', () => WebhookEndpointCreateInput, { description: 'The endpoint.' }) input: WebhookEndpointCreateInput, @Ctx() context: Context) {
    return mutationPayloadOf(WebhookEndpointPayload, async () => {
      const { endpoint, secret } = await context.services.webhooks.create(input);
      return { webhookEndpoint: endpoint, secret };
    });
  }

  @Mutation(() => WebhookEndpointPayload, { description: `Changes an endpoint. ${MANAGERS}` })
  webhookEndpointUpdate(@Arg('input', () => WebhookEndpointUpdateInput, { description: 'The changes.' }) input: WebhookEndpointUpdateInput, @Ctx() context: Context) {
    return mutationPayload(WebhookEndpointPayload, 'webhookEndpoint', () => context.services.webhooks.update(input));
  }

  @Mutation(() => WebhookEndpointPayload, { description: `Deletes an endpoint and its delivery log. ${MANAGERS}` })
  webhookEndpointDelete(@Arg('input', () => WebhookEndpointDeleteInput, { description: 'The endpoint.' }) input: WebhookEndpointDeleteInput, @Ctx() context: Context) {
    return mutationPayload(WebhookEndpointPayload, 'webhookEndpoint', () => context.services.webhooks.delete(input));
  }

  @Mutation(() => WebhookEndpointPayload, { description: `Replaces an endpoint’s secret (in the payload, once); the previous one keeps signing alongside for the overlap. ${MANAGERS}` })
  webhookEndpointRotateSecret(@Arg('input', () => WebhookEndpointRotateSecretInput, { description: 'The endpoint and overlap.' }) input: WebhookEndpointRotateSecretInput, @Ctx() context: Context) {
    return mutationPayloadOf(WebhookEndpointPayload, async () => {
      const { endpoint, secret } = await context.services.webhooks.rotateSecret(input);
      return { webhookEndpoint: endpoint, secret };
    });
  }

  @Mutation(() => WebhookDeliveryPayload, { description: `Sends a delivery’s event again (same \`webhook-id\`), after what already waits for its endpoint. ${MANAGERS}` })
  webhookDeliveryReplay(@Arg('input', () => WebhookDeliveryReplayInput, { description: 'The delivery.' }) input: WebhookDeliveryReplayInput, @Ctx() context: Context) {
    return mutationPayload(WebhookDeliveryPayload, 'webhookDelivery', () => context.services.webhooks.replay(input));
  }
}
