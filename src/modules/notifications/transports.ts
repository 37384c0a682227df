import fs from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import webpush from 'web-push';
import type { Logger } from 'pino';
import type { Config } from '../../config';

/**
 * A transport's failure. `permanent`: retrying will not help (a refused address, a bad request);
 * otherwise the notice is retried with backoff. `code` is stored; details only go to the log.
 */
export class DeliveryError extends Error {
  constructor(
    readonly code: string,
    readonly permanent: boolean,
    message: string,
  ) {
    super(message);
  }
}

export interface OutgoingEmail {
  /** The notice's id: the Message-ID, so a retried send can be recognised downstream. */
  id: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
}

export interface OutgoingPush {
  id: string;
  title: string;
  body: string;
  url: string;
}

export interface PushTarget {
  kind: 'WEB' | 'MOBILE';
  address: string;
  p256dh?: string | null;
  auth?: string | null;
  platform?: string | null;
}

/** Email, push and SMS senders, each absent when not configured. */
export interface Transports {
  email?: { send(mail: OutgoingEmail): Promise<void>; close(): void };
  /** Resolves false when the subscription is gone for good (it is then removed). */
  webPush?: { send(target: PushTarget, push: OutgoingPush): Promise<boolean> };
  mobilePush?: { send(target: PushTarget, push: OutgoingPush): Promise<boolean> };
  sms?: { send(to: string, body: string, id: string): Promise<void> };
}

const HTTP_TIMEOUT_MS = 10_000;

/**
 * A POST whose outcome is classified: network faults, 429 and 5xx are worth retrying, other 4xx
 * are not, and the `gone` statuses are returned (the address no longer exists).
 */
async function post(url: string, init: { headers: Record<string, string>; body: string | Buffer }, what: string, gone: number[] = []): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: init.headers, body: init.body, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS), redirect: 'error' });
  } catch (error) {
    throw new DeliveryError(`${what}_UNREACHABLE`, false, (error as Error).message);
  }
  await response.body?.cancel().catch(() => undefined);
  if (response.ok || gone.includes(response.status)) return response;
  const transient = response.status === 429 || response.status >= 500;
  throw new DeliveryError(`${what}_HTTP_${response.status}`, !transient, `${what} answered ${response.status}`);
}

function emailTransport(config: Config['notifications'], logger: Logger): Transports['email'] {
  const headers = { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' };
  const domain = config.mailFrom.match(/@([^>\s]+)/)?.[1] ?? 'localhost';
  const envelope = (mail: OutgoingEmail) => ({ from: config.mailFrom, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, messageId: `<${mail.id}@${domain}>`, headers });
  if (config.smtpUrl) {
    // Pooled: connections are reused across notices. Short timeouts: an outage should fail fast and be retried, not hold the worker.
    const smtp = nodemailer.createTransport({ url: config.smtpUrl, pool: true, maxConnections: 4, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 });
    return {
      async send(mail) {
        try {
          await smtp.sendMail(envelope(mail));
        } catch (error) {
          const { responseCode, code } = error as { responseCode?: number; code?: string };
          // 5xx: the server refused this message or address; anything else (no connection, 4xx) may pass later.
          throw new DeliveryError(responseCode ? `SMTP_${responseCode}` : `SMTP_${code ?? 'ERROR'}`, !!responseCode && responseCode >= 500, (error as Error).message);
        }
      },
      close: () => smtp.close(),
    };
  }
  const mailDir = config.mailDir;
  if (!mailDir) {
    logger.warn('no SMTP_URL: notification emails are not sent');
    return undefined;
  }
  const files = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(mail) {
      const info = await files.sendMail(envelope(mail));
      await fs.mkdir(mailDir, { recursive: true });
      const file = path.join(mailDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.id}.eml`);
      await fs.writeFile(file, info.message as Buffer);
      logger.info({ path: file }, 'no SMTP_URL: mail written to a file');
    },
    close: () => files.close(),
  };
}

function webPushTransport(vapid: NonNullable<Config['notifications']['webPush']>): NonNullable<Transports['webPush']> {
  return {
    async send(target, push) {
      // web-push encrypts and signs; the request itself is ours, so it has a timeout and one error policy.
      const request = webpush.generateRequestDetails(
        { endpoint: target.address, keys: { p256dh: target.p256dh ?? '', auth: target.auth ?? '' } },
        JSON.stringify({ title: push.title, body: push.body, url: push.url, tag: push.id }),
        { vapidDetails: vapid, TTL: 24 * 3600, urgency: 'normal' },
      );
      // A push service answers 404 or 410 for a subscription that has expired or been revoked.
      const response = await post(request.endpoint, { headers: request.headers as Record<string, string>, body: request.body as Buffer }, 'WEB_PUSH', [404, 410]);
      return response.ok;
    },
  };
}

function mobilePushTransport(provider: NonNullable<Config['notifications']['mobilePush']>): NonNullable<Transports['mobilePush']> {
  return {
    async send(target, push) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (provider.token) headers.authorization = `Bearer ${provider.token}`;
      const body = JSON.stringify({ token: target.address, platform: target.platform, id: push.id, title: push.title, body: push.body, url: push.url });
      // 410 from the gateway: the token is no longer registered. A 404 means the gateway URL is wrong, not the device.
      return (await post(provider.url, { headers, body }, 'MOBILE_PUSH', [410])).ok;
    },
  };
}

/** A Twilio-style provider: a form POST of To, From and Body with basic authentication. */
function smsTransport(provider: NonNullable<Config['notifications']['sms']>): NonNullable<Transports['sms']> {
  return {
    async send(to, text, id) {
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': id };
      if (provider.username) headers.authorization = `Basic ${Buffer.from(`${provider.username}:${provider.password ?? ''}`).toString('base64')}`;
      const form = new URLSearchParams({ To: to, Body: text });
      if (provider.from) form.set('From', provider.from);
      await post(provider.url, { headers, body: form.toString() }, 'SMS');
    },
  };
}

export function createTransports(config: Config['notifications'], logger: Logger): Transports {
  return {
    email: emailTransport(config, logger),
    webPush: config.webPush ? webPushTransport(config.webPush) : undefined,
    mobilePush: config.mobilePush ? mobilePushTransport(config.mobilePush) : undefined,
    sms: config.sms ? smsTransport(config.sms) : undefined,
  };
}
