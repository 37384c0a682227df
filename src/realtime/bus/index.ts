import type { Logger } from 'pino';
import type { Config } from '../../config';
import { InProcessEventBus, type EventBus } from './event-bus';
import { PostgresEventBus } from './postgres-bus';
import { RedisEventBus } from './redis-bus';

export * from './event-bus';

/** The bus the configuration asks for, connected. */
export async function createEventBus(config: Config, databaseUrl: string, logger: Logger): Promise<EventBus> {
  switch (config.eventBus.kind) {
    case 'postgres': {
      const bus = new PostgresEventBus({ databaseUrl, logger });
      await bus.start();
      return bus;
    }
    case 'redis': {
      const bus = new RedisEventBus(config.eventBus.redisUrl!, logger);
      await bus.start();
      return bus;
    }
    default:
      return new InProcessEventBus();
  }
}
