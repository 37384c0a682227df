import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { TestServer } from './server';
import { ok } from './client';
import { ChannelActivateDocument, MessageSendDocument, type ChannelActivateMutation, type ChannelKind, type MessageSendInput, type MessageSendMutation } from '../generated/graphql';

/** Who acts: a person (or anything with their token), or a bare token. */
export type Caller = { token: string } | string;

const tokenOf = (who: Caller) => (typeof who === 'string' ? who : who.token);

/** The codes of a payload's user errors, in order. */
export const codes = (payload: { userErrors: Array<{ code: string }> }): string[] => payload.userErrors.map((error) => error.code);

/** A messageSend document: MessageSendDocument, or one selecting more of the payload. */
export type SendDocument<Payload> = TypedDocumentNode<{ messageSend: Payload }, { input: MessageSendInput }>;

interface SendPayload {
  message?: { id: string } | null;
  userErrors: Array<{ code: string }>;
}

export interface Actions<Payload extends SendPayload> {
  /** messageSend as `who`: its payload, user errors included (returned, not thrown). */
  send(who: Caller, channelId: string, body: string, extra?: Partial<MessageSendInput>): Promise<Payload>;
  /** Sends and expects no user error: the message sent. */
  post(who: Caller, channelId: string, body: string, extra?: Partial<MessageSendInput>): Promise<NonNullable<Payload['message']>>;
  /** channelActivate as `who` for the patient (CARE_TEAM unless told), expecting no user error: the channel. */
  activate(who: Caller, patient: string | { id: string }, kind?: ChannelKind): Promise<NonNullable<ChannelActivateMutation['channelActivate']['channel']>>;
}

/**
 * The operations most tests perform, against the server `server()` returns when they run (a
 * test file's server is started in its `beforeAll`, and some files restart it).
 */
export function actions(server: () => Pick<TestServer, 'url'>): Actions<MessageSendMutation['messageSend']>;
export function actions<Payload extends SendPayload>(server: () => Pick<TestServer, 'url'>, options: { sendDocument: SendDocument<Payload> }): Actions<Payload>;
export function actions(server: () => Pick<TestServer, 'url'>, options: { sendDocument?: SendDocument<SendPayload> } = {}): Actions<SendPayload> {
  const sendDocument = options.sendDocument ?? (MessageSendDocument as SendDocument<SendPayload>);
  const send = async (who: Caller, channelId: string, body: string, extra: Partial<MessageSendInput> = {}) =>
    (await ok(server().url, tokenOf(who), sendDocument, { input: { channelId, body, ...extra } })).messageSend;
  return {
    send,
    async post(who, channelId, body, extra) {
      const sent = await send(who, channelId, body, extra);
      expect(sent.userErrors).toEqual([]);
      return sent.message!;
    },
    async activate(who, patient, kind = 'CARE_TEAM') {
      const patientId = typeof patient === 'string' ? patient : patient.id;
      const { channelActivate } = await ok(server().url, tokenOf(who), ChannelActivateDocument, { input: { patientId, kind } });
      expect(channelActivate.userErrors).toEqual([]);
      return channelActivate.channel!;
    },
  };
}
