import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { UserErrorCode } from '../errors';

registerEnumType(UserErrorCode, {
  name: 'UserErrorCode',
  description: 'Why a mutation did not change anything.',
  valuesConfig: {
    INVALID_INPUT: { description: 'A field failed validation; see `field` and `message`.' },
    NOT_FOUND: { description: 'The target does not exist or is not visible to the caller.' },
    FORBIDDEN: { description: 'The caller may see the target but may not do this to it.' },
    BODY_TOO_LONG: { description: 'The message body is longer than the server allows.' },
    SLUG_TAKEN: { description: 'Another organisation already uses this slug.' },
    UNSUPPORTED_CHANNEL_KIND: { description: 'This channel kind cannot be created by this operation.' },
    CHANNEL_CLOSED: { description: 'The channel does not accept new messages.' },
    LAST_TEAM_MEMBER: { description: 'A patient channel keeps at least one team member.' },
    PATIENT_CANNOT_LEAVE: { description: 'The patient of a care-team, service-team or conversation channel (and their guardians) stays in it.' },
    NOT_ALLOWED_TO_START: { description: "The organisation's messaging settings do not let the caller start a conversation." },
    PATIENT_NOT_MESSAGEABLE: { description: 'A precondition for messaging the patient fails; the message names which to staff.' },
    REPLIES_NOT_ALLOWED: { description: 'Staff turned off patient replies in this conversation.' },
    IDEMPOTENCY_KEY_REUSED: { description: 'The sender used this idempotency key before with different content; nothing was sent.' },
    REPLY_TO_REPLY: { description: 'Threads are one level deep: reply to the thread’s first message instead.' },
    MESSAGE_DELETED: { description: 'The message was deleted.' },
    UNSUPPORTED_FILE_TYPE: { description: 'This file type is not accepted (at all, or from patients by this organisation).' },
    FILE_TOO_LARGE: { description: 'The file is over the size limit.' },
    PUSH_NOT_CONFIGURED: { description: 'This server is not set up to send that kind of push notification.' },
    RATE_LIMITED: { description: 'Too many of these in a short time (per person, organisation or address): try again after `retryAfterSeconds`; nothing was changed.' },
    INVALID_EMOJI: { description: 'A reaction must be exactly one emoji (a like is 👍).' },
    CHART_DOCUMENT_WRONG_CHANNEL: { description: "A chart document goes only to its own patient's channels (care team, service team, their conversations, a staff channel about them); never a group, a DM or another patient's channel." },
    CHART_DOCUMENT_WITHDRAWN: { description: 'The chart document was withdrawn: it cannot be attached or changed any more.' },
    EXTERNAL_ID_TAKEN: { description: 'This external id is already used for something else in the organisation.' },
    WEBHOOK_URL_REFUSED: { description: 'The webhook URL is not https (in production) or does not reach a public address.' },
    URGENCY_NOT_ALLOWED: { description: 'Patients may not mark messages URGENT in this organisation (messaging settings: patientsCanMarkUrgent).' },
  },
});

@ObjectType('UserError', { description: 'An expected failure of a mutation. When present, nothing was changed.' })
export class UserErrorType {
  @Field(() => UserErrorCode, { description: 'Machine-readable reason.' })
  code!: UserErrorCode;

  @Field(() => String, { nullable: true, description: 'Path of the input field at fault, e.g. `input.body`.' })
  field?: string | null;

  @Field(() => String, { description: 'Human-readable explanation, safe to show to the user.' })
  message!: string;

  @Field(() => Int, { nullable: true, description: 'RATE_LIMITED: seconds until the call may succeed again; null otherwise.' })
  retryAfterSeconds?: number | null;
}

@ObjectType({ description: 'Relay pagination state of a connection.' })
export class PageInfo {
  @Field(() => Boolean, { description: 'More items exist after `endCursor`.' })
  hasNextPage!: boolean;

  @Field(() => Boolean, { description: 'More items exist before `startCursor`.' })
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Cursor of the first edge.' })
  startCursor?: string | null;

  @Field(() => String, { nullable: true, description: 'Cursor of the last edge.' })
  endCursor?: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
}

/** An edge whose cursor is made only if a client asks for it (some cursors are encrypted). */
class LazyEdge<T> implements Edge<T> {
  private made?: string;

  constructor(
    readonly node: T,
    private readonly cursorOf: (node: T) => string,
  ) {}

  get cursor(): string {
    return (this.made ??= this.cursorOf(this.node));
  }
}

/** A Relay connection of `nodes` (already in list order), each edge carrying its cursor. */
export function connectionOf<T>(
  nodes: T[],
  cursorOf: (node: T) => string,
  more: { hasNextPage: boolean; hasPreviousPage: boolean } = { hasNextPage: false, hasPreviousPage: false },
): Connection<T> {
  const edges = nodes.map((node) => new LazyEdge(node, cursorOf));
  const pageInfo = {
    ...more,
    get startCursor() {
      return edges[0]?.cursor ?? null;
    },
    get endCursor() {
      return edges.at(-1)?.cursor ?? null;
    },
  };
  return { edges, pageInfo };
}

/** Base of every mutation payload (its fields are inherited by each payload type). */
@ObjectType({ description: 'Base of mutation payloads.' })
export abstract class MutationPayload {
  @Field(() => [UserErrorType], { description: 'Expected failures; empty on success. Nothing was changed when not empty.' })
  userErrors: UserErrorType[] = [];
}

type NodeClass = abstract new (...args: never[]) => unknown;

/** Declares `<Name>Edge` and `<Name>Connection` object types for a node type. */
export function connectionType(name: string, node: NodeClass, description: string) {
  @ObjectType(`${name}Edge`, { description: `One ${description} in a list, with its cursor.` })
  class EdgeType {
    @Field(() => String, { description: 'Opaque cursor of this edge; pass it as `after` or `before`.' })
    cursor!: string;

    @Field(() => node, { description: `The ${description}.` })
    node!: unknown;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${description}s (Relay connection).` })
  class ConnectionType {
    @Field(() => [EdgeType], { description: 'The items of this page, in list order.' })
    edges!: Edge<unknown>[];

    @Field(() => PageInfo, { description: 'Whether more pages exist and where they start.' })
    pageInfo!: PageInfo;
  }
  return ConnectionType;
}
