import crypto from 'node:crypto';
import { z } from 'zod';
import type { RequestScope } from '../../graphql/context';
import { auditedTransaction } from '../audit/audit-log';
import { requirePerson, type PersonActor } from '../../auth/actor';
import { UserError, UserErrorCode } from '../../errors';
import { isUuid, parseInput, requiredText, uuid } from '../../common/validation';
import { Patient, PatientGuardian } from '../directory/patient.entity';
import { personColumns, type PersonRef } from '../messages/read-state.queries';
import type { Config } from '../../config';
import type { MessagingSettingsService } from '../settings/messaging-settings.service';

export enum EmailNotificationMode {
  IMMEDIATE = 'IMMEDIATE',
  DIGEST = 'DIGEST',
  OFF = 'OFF',
}

export interface NotificationPreferences {
  email: EmailNotificationMode;
  push: boolean;
  sms: boolean;
  /** Effective: the person's own delay, or their side's default from the settings. */
  delayMinutes: number;
  defaultDelay: boolean;
  updatedAt: Date | null;
}

export interface PushSubscription {
  id: string;
  kind: 'WEB' | 'MOBILE';
  platform: string | null;
  createdAt: Date;
}

/** Most devices one person keeps registered; registering another forgets the oldest. */
const MAX_DEVICES = 20;

const isBase64url = (text: string, bytes: number) => /^[A-Za-z0-9_-]+={0,2}$/.test(text) && Buffer.from(text, 'base64url').length === bytes;

/** A browser's key must be a point on P-256, or no notice could ever be encrypted for it. */
function isP256Point(text: string): boolean {
  try {
    const probe = crypto.createECDH('prime256v1');
    probe.generateKeys();
    probe.computeSecret(Buffer.from(text, 'base64url'));
    return true;
  } catch {
    return false;
  }
}

const preferencesInput = z.object({
  patientId: uuid('The patient id').nullish(),
  email: z.nativeEnum(EmailNotificationMode).nullish(),
  push: z.boolean().nullish(),
  sms: z.boolean().nullish(),
  delayMinutes: z.number().int().min(0, 'The delay is 0 to 1440 minutes.').max(1440, 'The delay is 0 to 1440 minutes.').nullish(),
  defaultDelay: z.boolean().nullish(),
});

const registerInput = z
  .object({
    webPush: z
      .object({
        endpoint: z.string().max(2000),
        p256dh: z.string().refine((text) => isBase64url(text, 65) && isP256Point(text), 'p256dh is not a base64url P-256 public key (65 bytes).'),
        auth: z.string().refine((text) => isBase64url(text, 16), 'auth is not a 16-byte base64url value.'),
      })
      .nullish(),
    mobile: z.object({ platform: z.enum(['IOS', 'ANDROID']), token: requiredText('The device token', 4096) }).nullish(),
  })
  .refine((data) => Boolean(data.webPush) !== Boolean(data.mobile), { message: 'Give either webPush or mobile.', path: ['webPush'] });

const removeInput = z.object({ pushSubscriptionId: uuid('The push subscription id') });

type SubscriptionRow = { id: string; kind: 'WEB' | 'MOBILE'; platform: string | null; created_at: string };
const toSubscription = (row: SubscriptionRow): PushSubscription => ({ id: row.id, kind: row.kind, platform: row.platform, createdAt: new Date(row.created_at) });

interface PreferenceRow {
  email: EmailNotificationMode;
  push: boolean;
  sms: boolean;
  delay_minutes: number | null;
  updated_at: string;
}

/** The person's column in preference and device rows (the same as in channel_member). */
const personColumn = (person: PersonRef) => {
  const { member, id } = personColumns(person);
  return { column: member, id };
};

/** What NotificationPreferencesService works with besides the request. */
export interface NotificationPreferencesServiceDeps {
  config: Config;
  settings: MessagingSettingsService;
}

/**
 * How and when people are notified: their preferences (a patient's may be changed by staff, or by
 * their guardian) and the devices they registered for push notifications.
 */
export class NotificationPreferencesService {
  private readonly config;

  constructor(private readonly scope: RequestScope, private readonly deps: NotificationPreferencesServiceDeps) {
    this.config = this.deps.config.notifications;
  }

  /** The caller's preferences, or a patient's (staff; a guardian for a dependant); undefined when not visible. */
  async read(patientId?: string | null): Promise<NotificationPreferences | undefined> {
    const actor = requirePerson(this.scope.actor);
    const person = await this.target(actor, patientId);
    return person && this.load(person);
  }

  async update(input: unknown): Promise<NotificationPreferences> {
    const actor = requirePerson(this.scope.actor);
    const data = parseInput(preferencesInput, input);
    const person = await this.target(actor, data.patientId);
    if (!person) throw new UserError(UserErrorCode.NOT_FOUND, 'No such patient.', 'input.patientId');
    if (data.defaultDelay && data.delayMinutes != null) throw new UserError(UserErrorCode.INVALID_INPUT, 'Give a delay or ask for the default, not both.', 'input.delayMinutes');
    const { column, id } = personColumn(person);
    const delay = data.defaultDelay ? 'null' : data.delayMinutes != null ? '?::int' : 'np.delay_minutes';
    await auditedTransaction(this.scope, (em) =>
      em.execute(
      `insert into notification_preference as np (organisation_id, ${column}, email, push, sms, delay_minutes)
       values (?, ?, coalesce(?, 'IMMEDIATE'), coalesce(?, true), coalesce(?, true), ?)
       on conflict (organisation_id, ${column}) do update
         set email = coalesce(?, np.email), push = coalesce(?, np.push), sms = coalesce(?, np.sms), delay_minutes = ${delay}, updated_at = now()`,
      [
        actor.organisationId,
        id,
        data.email ?? null,
        data.push ?? null,
        data.sms ?? null,
        data.defaultDelay ? null : (data.delayMinutes ?? null),
        data.email ?? null,
        data.push ?? null,
        data.sms ?? null,
        ...(delay === '?::int' ? [data.delayMinutes] : []),
      ],
      ),
    );
    return this.load(person);
  }

  /** The public VAPID key a browser subscribes with; null when web push is not set up. */
  webPushPublicKey(): string | null {
    requirePerson(this.scope.actor);
    return this.config.webPush?.publicKey ?? null;
  }

  /**
   * Registers one of the caller's devices. An endpoint or token registered before moves to the
   * caller (a shared device signed in as someone else) with its new keys.
   */
  async registerPush(input: unknown): Promise<PushSubscription> {
    const actor = requirePerson(this.scope.actor);
    const data = parseInput(registerInput, input);
    const { column, id } = personColumn(actor);
    if (data.webPush) {
      if (!this.config.webPush) throw new UserError(UserErrorCode.PUSH_NOT_CONFIGURED, 'Web push is not set up on this server.', 'input.webPush');
      this.checkEndpoint(data.webPush.endpoint);
    } else if (!this.config.mobilePush) throw new UserError(UserErrorCode.PUSH_NOT_CONFIGURED, 'Mobile push is not set up on this server.', 'input.mobile');
    const [kind, address, p256dh, auth, platform] = data.webPush
      ? ['WEB', data.webPush.endpoint, data.webPush.p256dh, data.webPush.auth, null]
      : ['MOBILE', data.mobile!.token, null, null, data.mobile!.platform];
    return auditedTransaction(this.scope, async (em) => {
      const [row] = await em.execute<SubscriptionRow[]>(
        // A browser endpoint moves to another person only with the keys it already has (the same
        // browser, signed in as someone else): knowing an endpoint is not enough to take it over.
        `insert into push_subscription as ps (organisation_id, ${column}, kind, address, p256dh, auth, platform) values (?, ?, ?, ?, ?, ?, ?)
         on conflict (organisation_id, kind, address) do update
           set team_member_id = excluded.team_member_id, patient_id = excluded.patient_id, p256dh = excluded.p256dh, auth = excluded.auth,
               platform = excluded.platform, created_at = now()
           where ps.kind = 'MOBILE' or ps.${column} = excluded.${column} or (ps.p256dh = excluded.p256dh and ps.auth = excluded.auth)
         returning id, kind, platform, created_at`,
        [actor.organisationId, id, kind, address, p256dh, auth, platform],
      );
      if (!row) throw new UserError(UserErrorCode.INVALID_INPUT, 'This push subscription belongs to another browser session; subscribe again for a new one.', 'input.webPush.endpoint');
      await em.execute(
        `delete from push_subscription where organisation_id = ? and ${column} = ? and id not in (
           select id from push_subscription where organisation_id = ? and ${column} = ? order by created_at desc limit ${MAX_DEVICES})`,
        [actor.organisationId, id, actor.organisationId, id],
      );
      return toSubscription(row);
    });
  }

  async removePush(input: unknown): Promise<PushSubscription> {
    const actor = requirePerson(this.scope.actor);
    const { pushSubscriptionId } = parseInput(removeInput, input);
    const { column, id } = personColumn(actor);
    return auditedTransaction(this.scope, async (em) => {
      const [row] = await em.execute<SubscriptionRow[]>(
        `delete from push_subscription where organisation_id = ? and id = ? and ${column} = ? returning id, kind, platform, created_at`,
        [actor.organisationId, pushSubscriptionId, id],
      );
      if (!row) throw new UserError(UserErrorCode.NOT_FOUND, 'No such push subscription.', 'input.pushSubscriptionId');
      return toSubscription(row);
    });
  }

  /**
   * The server will POST to this address: only https on its default port (anything else only
   * outside production, for local testing) on the configured push services' hosts, never an
   * arbitrary one.
   */
  private checkEndpoint(endpoint: string): void {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new UserError(UserErrorCode.INVALID_INPUT, 'The endpoint is not a URL.', 'input.webPush.endpoint');
    }
    const production = this.deps.config.env === 'production';
    const schemeAllowed = (url.protocol === 'https:' && (url.port === '' || !production)) || (url.protocol === 'http:' && !production);
    const host = url.hostname.toLowerCase();
    const hostAllowed = this.config.webPushHosts.some((allowed) => (allowed.startsWith('.') ? host.endsWith(allowed) : host === allowed));
    if (!schemeAllowed || !hostAllowed || url.username || url.password) {
      throw new UserError(UserErrorCode.INVALID_INPUT, 'The endpoint is not one of the push services this server sends to.', 'input.webPush.endpoint');
    }
  }

  /** Whose preferences: the caller's own, or a patient's for staff and for the patient's guardians. */
  private async target(actor: PersonActor, patientId: string | null | undefined): Promise<PersonRef | undefined> {
    if (!patientId || (actor.kind === 'patient' && patientId === actor.patientId)) return actor;
    if (!isUuid(patientId)) return undefined;
    const { organisationId } = actor;
    if (actor.kind === 'staff') return (await this.scope.em.count(Patient, { organisationId, id: patientId })) > 0 ? { kind: 'patient', patientId } : undefined;
    const guardian = await this.scope.em.count(PatientGuardian, { organisationId, guardianPatientId: actor.patientId, dependantPatientId: patientId });
    return guardian > 0 ? { kind: 'patient', patientId } : undefined;
  }

  private async load(person: PersonRef): Promise<NotificationPreferences> {
    const { column, id } = personColumn(person);
    const organisationId = this.scope.actor && this.scope.actor.kind !== 'operator' ? this.scope.actor.organisationId : '';
    const [[row], settings] = await Promise.all([
      this.scope.em.execute<PreferenceRow[]>(`select email, push, sms, delay_minutes, updated_at from notification_preference where organisation_id = ? and ${column} = ?`, [organisationId, id]),
      this.deps.settings.current(),
    ]);
    const sideDefault = person.kind === 'staff' ? settings.staffNotificationDelayMinutes : settings.patientNotificationDelayMinutes;
    return {
      email: row?.email ?? EmailNotificationMode.IMMEDIATE,
      push: row?.push ?? true,
      sms: row?.sms ?? true,
      delayMinutes: row?.delay_minutes ?? sideDefault,
      defaultDelay: row?.delay_minutes == null,
      updatedAt: row ? new Date(row.updated_at) : null,
    };
  }
}
