import http from 'node:http';
import https from 'node:https';
import { DestinationRefused, checkUrl, pinnedLookup, resolveAllowed, type DestinationRules } from './destination-wall';

export interface SendLimits {
  timeoutMs: number;
  /** More of a response than this is not read (the connection is dropped). */
  maxResponseBytes: number;
}

/** What became of one attempt: the status code when there was a response; an error code otherwise or for a non-2xx. */
export interface SendOutcome {
  delivered: boolean;
  statusCode: number | null;
  error: string | null;
}

/**
 * POSTs a signed body to the endpoint, resolving its host again and refusing private addresses
 * (the DNS answer may have changed since registration), connecting only to the addresses checked,
 * following no redirect, reading at most `maxResponseBytes` of the answer, within `timeoutMs`.
 */
export async function postWebhook(rawUrl: string, body: string, headers: Record<string, string>, rules: DestinationRules, limits: SendLimits): Promise<SendOutcome> {
  let url: URL;
  let addresses: Awaited<ReturnType<typeof resolveAllowed>>;
  try {
    url = checkUrl(rawUrl, rules);
    addresses = await resolveAllowed(url, rules, undefined, limits.timeoutMs);
  } catch (error) {
    if (error instanceof DestinationRefused) return { delivered: false, statusCode: null, error: error.reason };
    throw error;
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<SendOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: SendOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const request = client.request(
      url,
      {
        method: 'POST',
        lookup: pinnedLookup(addresses),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body).toString(), 'user-agent': 'care-messaging-webhooks/1', ...headers },
        agent: false,
      },
      (response) => {
        const status = response.statusCode ?? 0;
        let read = 0;
        const done = () =>
          finish({
            delivered: status >= 200 && status < 300,
            statusCode: status,
            error: status >= 200 && status < 300 ? null : status >= 300 && status < 400 ? 'REDIRECT_NOT_FOLLOWED' : 'HTTP_STATUS',
          });
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > limits.maxResponseBytes) {
            done();
            response.destroy();
          }
        });
        response.on('end', done);
        response.on('error', done);
      },
    );
    const timer = setTimeout(() => {
      finish({ delivered: false, statusCode: null, error: 'TIMEOUT' });
      request.destroy();
    }, limits.timeoutMs);
    request.on('error', () => finish({ delivered: false, statusCode: null, error: 'CONNECTION_FAILED' }));
    request.end(body);
  });
}
