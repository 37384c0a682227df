import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config';
import type { Metrics } from './metrics';

/** The scrape answer: the registry in Prometheus' text format. */
export async function answerMetrics(metrics: Metrics, res: ServerResponse): Promise<void> {
  const body = await metrics.registry.metrics();
  res.statusCode = 200;
  res.setHeader('content-type', metrics.registry.contentType);
  res.end(body);
}

/** Whether a request to `/metrics` of the API port carries the metrics token (compared in constant time). */
export function bearsMetricsToken(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return false;
  const given = Buffer.from(/^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Serves `/metrics` alone on its own port (for a scraper inside the private network); returns its URL and how to close it. */
export async function serveMetrics(metrics: Metrics, config: Config['metrics']): Promise<{ url: string; close(): Promise<void> } | undefined> {
  if (config.port === undefined) return undefined;
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') return void answerMetrics(metrics, res).catch(() => res.destroy());
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${config.host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
