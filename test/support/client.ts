import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface HttpResult<T> extends ExecutionResult<T> {
  status: number;
}

/** POSTs a typed operation with a bearer token; returns the parsed body and HTTP status. */
export async function request<T, V>(url: string, token: string | undefined, document: TypedDocumentNode<T, V>, variables?: V): Promise<HttpResult<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: print(document), variables }),
  });
  return { status: response.status, ...((await response.json()) as ExecutionResult<T>) };
}

/**
 * Runs one query or mutation over a graphql-ws connection of its own, answered as `request` is
 * (status 200, or the close code of a refused connection): the same rules must hold on both transports.
 */
export async function requestOverSocket<T, V>(wsUrl: string, token: string | undefined, document: TypedDocumentNode<T, V>, variables?: V): Promise<HttpResult<T>> {
  const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: token ? { authorization: `Bearer ${token}` } : {}, retryAttempts: 0, lazy: true });
  try {
    return await new Promise<HttpResult<T>>((resolve) => {
      let result: HttpResult<T> | undefined;
      client.subscribe<T>(
        { query: print(document), variables: variables as Record<string, unknown> },
        {
          next: (value) => (result = { status: 200, ...(value as ExecutionResult<T>) }),
          error: (error) => {
            const closeCode = (error as { code?: unknown }).code;
            if (typeof closeCode === 'number') resolve({ status: closeCode, errors: [{ message: `closed ${closeCode}`, extensions: { code: closeCode === 4401 ? 'UNAUTHENTICATED' : closeCode === 4403 ? 'FORBIDDEN' : `CLOSE_${closeCode}` } }] as never });
            else resolve({ status: 200, errors: (Array.isArray(error) ? error : [error]) as never });
          },
          complete: () => resolve(result ?? { status: 200, errors: [{ message: 'no result' }] as never }),
        },
      );
    });
  } finally {
    await client.dispose();
  }
}

/** Like `request`, but fails the test unless the operation returned data and no errors. */
export async function ok<T, V>(url: string, token: string | undefined, document: TypedDocumentNode<T, V>, variables?: V): Promise<T> {
  const result = await request(url, token, document, variables);
  if (result.errors?.length || !result.data) throw new Error(`operation failed: ${JSON.stringify(result.errors)}`);
  return result.data;
}

export function errorCodes(result: ExecutionResult<unknown>): string[] {
  return (result.errors ?? []).map((error) => String(error.extensions?.code));
}

export interface Subscription<T> {
  /** The next result, or an error if none arrives in time or the stream ended. */
  next(timeoutMs?: number): Promise<ExecutionResult<T>>;
  /** Resolves when nothing more arrives within `ms` (to prove absence). */
  expectSilence(ms?: number): Promise<void>;
  /** Resolves once the stream has completed, with how it ended. */
  ended: Promise<{ error?: unknown }>;
  close(): Promise<void>;
  /** Waits for the stream to end and returns the error codes it ended with (an error message or a result with errors). */
  endCodes(): Promise<string[]>;
  client: Client;
}

/** Opens a graphql-ws connection with the token and subscribes; results are queued in order. */
export function subscribe<T, V>(wsUrl: string, token: string | undefined, document: TypedDocumentNode<T, V>, variables: V): Subscription<T> {
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: true,
  });
  const queue: ExecutionResult<T>[] = [];
  const waiters: Array<(result: ExecutionResult<T> | undefined) => void> = [];
  let done = false;
  let endResolve!: (value: { error?: unknown }) => void;
  const ended = new Promise<{ error?: unknown }>((resolve) => (endResolve = resolve));
  const finish = (error?: unknown) => {
    done = true;
    endResolve({ error });
    while (waiters.length) waiters.shift()!(undefined);
  };
  client.subscribe<T>(
    { query: print(document), variables: variables as Record<string, unknown> },
    {
      next: (value) => {
        const waiter = waiters.shift();
        if (waiter) waiter(value as ExecutionResult<T>);
        else queue.push(value as ExecutionResult<T>);
      },
      error: (error) => finish(error),
      complete: () => finish(),
    },
  );
  return {
    client,
    ended,
    next(timeoutMs = 5000) {
      const queued = queue.shift();
      if (queued) return Promise.resolve(queued);
      if (done) return Promise.reject(new Error('subscription ended'));
      return new Promise((resolve, reject) => {
        const waiter = (value: ExecutionResult<T> | undefined) => {
          clearTimeout(timer);
          if (value) resolve(value);
          else reject(new Error('subscription ended'));
        };
        // A waiter that timed out leaves the queue: the next event is not handed to it.
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error('no event within timeout'));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    async expectSilence(ms = 300) {
      await new Promise((resolve) => setTimeout(resolve, ms));
      if (queue.length) throw new Error(`unexpected events: ${JSON.stringify(queue)}`);
    },
    async close() {
      await client.dispose();
    },
    async endCodes() {
      const { error } = await ended;
      const fromResults = queue.flatMap((result) => errorCodes(result));
      return Array.isArray(error) ? [...fromResults, ...errorCodes({ errors: error })] : fromResults;
    },
  };
}

/** Connects without subscribing and reports the close code the server chose. */
export function connectionCloseCode(wsUrl: string, connectionParams: Record<string, unknown>): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: connectionParams })));
    socket.on('close', (code) => resolve(code));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') socket.close(1000);
    });
  });
}

/** Polls `condition` until it holds (or fails the test after `timeoutMs`). */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
