import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema } from 'graphql';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { PubSub } from 'graphql-subscriptions';

/**
 * The peer for live delivery: a plain graphql-ws server publishing through an in-memory
 * graphql-subscriptions PubSub, with the same event shape as `channelEvents` (no auth, no
 * database, no durability, no per-subscriber filtering). Run alone, it prints its port.
 */
const SDL = `
  type TeamMember { id: ID! name: String! }
  type Patient { id: ID! displayName: String! }
  union Author = TeamMember | Patient
  type Message { id: ID! body: String! createdAt: String! author: Author }
  type ChannelEvent { cursor: String! type: String! message: Message }
  type Query { ok: Boolean }
  type Subscription { channelEvents(channelId: ID!, after: String): ChannelEvent! }
`;

export interface PlainServer {
  url: string;
  port: number;
  publish(channelId: string, event: unknown): Promise<void>;
  close(): Promise<void>;
}

export async function startPlainServer(): Promise<PlainServer> {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const pubsub = new PubSub({ eventEmitter: emitter });
  const schema = buildSchema(SDL);
  const field = schema.getSubscriptionType()!.getFields().channelEvents;
  field.subscribe = (_source, args: { channelId: string }) => pubsub.asyncIterableIterator(`channel:${args.channelId}`);
  field.resolve = (event) => event;
  const http = createServer();
  const wsServer = new WebSocketServer({ server: http, path: '/graphql' });
  const disposable = useServer({ schema }, wsServer);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/graphql`,
    port,
    publish: (channelId, event) => pubsub.publish(`channel:${channelId}`, event),
    async close() {
      await disposable.dispose();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** What the memory bench publishes to confirm idle subscriptions (SIGUSR1 when run alone). */
const SAMPLE_EVENT = { cursor: 'c', type: 'MESSAGE_SENT', message: { id: 'm', body: 'confirm', createdAt: new Date(0).toISOString(), author: { __typename: 'TeamMember', id: 't', name: 'Idle watcher' } } };

if (require.main === module) {
  void startPlainServer().then((server) => {
    process.on('SIGUSR1', () => void server.publish('idle', SAMPLE_EVENT));
    process.stdout.write(`${server.port}\n`);
  });
}
