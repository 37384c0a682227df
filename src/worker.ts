// First: tracing (when configured) instruments what is loaded after it.
import { tracing } from './telemetry/start';
import { loadConfig, ConfigError } from './config';
import { createLogger } from './server';
import { openDatabase } from './db/orm';
import { runMigrations } from './db/migrate';
import { NotificationWorker } from './modules/notifications/worker';
import { Metrics } from './telemetry/metrics';
import { serveMetrics } from './telemetry/metrics-endpoint';

/**
 * The notification worker alone, without HTTP: for deployments that run it apart from the API
 * processes (set NOTIFICATION_WORKER=false on those). It needs a shared DATABASE_URL.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config);
  if (!config.databaseUrl) throw new ConfigError('Invalid configuration: the stand-alone worker needs DATABASE_URL (the embedded database belongs to the server process)');
  await runMigrations(config.databaseUrl);
  const orm = await openDatabase({ databaseUrl: config.databaseUrl, logger, poolMax: 4 });
  const metrics = new Metrics(orm);
  const metricsServer = await serveMetrics(metrics, config.metrics);
  if (metricsServer) logger.info({ url: metricsServer.url }, 'metrics served');
  const worker = new NotificationWorker(orm, config.notifications, logger, undefined, metrics);
  worker.start();
  logger.info('notification worker started');
  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'notification worker stopping');
    await worker.stop();
    await metricsServer?.close();
    await orm.close(true);
    await tracing?.shutdown().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // The worker's timers do not hold the process open: this does, until a signal.
  setInterval(() => undefined, 1 << 30);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : (error as Error).stack}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
