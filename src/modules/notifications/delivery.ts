import type { Metrics } from '../../telemetry/metrics';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import { uuidArray } from '../../db/sql';
import { unreadTotal, UNREAD_COUNT_CAP, type PersonRef } from '../messages/read-state.queries';
import { loadMessagingSettings, type MessagingSettings } from '../settings/messaging-settings.service';
import { loadNotificationTemplates, NotificationTemplateKind, renderNotice, type NotificationTemplate, type RenderedNotice } from './notification-templates';
import { DeliveryError, type PushTarget, type Transports } from './transports';
import type { NoticeKind, NoticeTransport } from './planner';
import { messagePolicy } from '../../policy/messages';
import { channelPolicy } from '../../policy/channels';
import { answersPatients } from '../../policy/responders';
import type { StaffActor } from '../../auth/actor';
import type { ChannelKind, ChannelStatus } from '../channels/channel.entity';
import type { Permission } from '../directory/team-member.entity';
import { eventId, queueWebhookEvent, WebhookEventType, type WebhookEvent } from '../webhooks/webhook-events';

interface ClaimedNotice {
  organisation_id: string;
  id: string;
  kind: NoticeKind;
  transport: NoticeTransport;
  team_member_id: string | null;
  patient_id: string | null;
  channel_id: string | null;
  message_id: string | null;
  attempts: number;
}

/** The recipient as they are now: what they chose, where they can be reached, their membership of the notice's channel. */
interface RecipientState {
  organisation_name: string;
  person_archived: boolean;
  email_address: string | null;
  phone: string | null;
  portal_access: boolean | null;
  email_mode: 'IMMEDIATE' | 'DIGEST' | 'OFF';
  push: boolean;
  sms: boolean;
  member: boolean;
  archived: boolean;
  muted: boolean;
  /** The channel, as the channel policy reads it (null for a digest). */
  channel_kind: ChannelKind | null;
  started_by_patient: boolean | null;
  started_by_clinic: boolean | null;
  channel_status: ChannelStatus | null;
  permissions: Permission[] | null;
}

/** Why a notice was not sent (stored as its reason). */
type Suppression = 'RECIPIENT_ARCHIVED' | 'NO_ACCESS' | 'LEFT' | 'ARCHIVED' | 'MUTED' | 'PREFERENCE' | 'READ' | 'ANSWERED' | 'NOTHING_UNREAD' | 'NO_ADDRESS' | 'NOT_CONFIGURED' | 'COALESCED';

/** Longer than any one notice can take (transport timeouts), so a claimed notice is never claimed twice while alive. */
const LEASE = "interval '2 minutes'";
const MAX_BACKOFF_MS = 3_600_000;

/** Patient messages in a channel after the last one any team member read or answered: those waiting for staff. */
const WAITING_SQL = `
  select count(*) as n from (
    select 1 from message m
     where m.organisation_id = ? and m.channel_id = ? and (m.author_patient_id is not null or m.remote_author_name is not null) and ${messagePolicy.sql.seenByPatients('m')} and m.deleted_at is null
       and m.seq > greatest(
         coalesce((select max(cm.last_read_seq) from channel_member cm
                    where cm.organisation_id = m.organisation_id and cm.channel_id = m.channel_id and cm.team_member_id is not null), 0),
         coalesce((select max(s.seq) from message s
                    where s.organisation_id = m.organisation_id and s.channel_id = m.channel_id and s.author_team_member_id is not null), 0))
     order by m.seq limit ${UNREAD_COUNT_CAP}) waiting`;

/**
 * Sends the notices that are due. Each is claimed under a lease (a process that dies mid-send
 * lets another retry it once the lease ends), checked again against the recipient's state now
 * (read, archived, muted, left, preferences), filled from the organisation's template and handed
 * to its transport; a transport fault is retried with exponential backoff until the attempts run out.
 */
export class NoticeDelivery {
  /** Settings and templates of the organisations in the batch being delivered, each read once per batch. */
  private settings = new Map<string, Promise<MessagingSettings>>();
  private templates = new Map<string, Promise<NotificationTemplate>>();

  constructor(
    private readonly orm: MikroORM,
    private readonly config: Config['notifications'],
    private readonly transports: Transports,
    private readonly logger: Logger,
    private readonly metrics?: Metrics,
  ) {}

  /**
   * Claims up to `batch` due notices (and any whose worker died mid-send, once their lease ended)
   * and delivers them side by side. A claimed notice is SENDING: a message arriving meanwhile gets
   * a waiting notice of its own instead of joining one already on its way.
   */
  async deliverDue(batch: number): Promise<number> {
    const claimed = await this.orm.em.fork().execute<ClaimedNotice[]>(
      `update notification n set status = 'SENDING', locked_until = now() + ${LEASE}, attempts = n.attempts + 1
        where (n.organisation_id, n.id) in (
          select organisation_id, id from notification
           where (status = 'PENDING' and due_at <= now()) or (status = 'SENDING' and locked_until < now())
           order by due_at limit ? for update skip locked)
        returning n.organisation_id, n.id, n.kind, n.transport, n.team_member_id, n.patient_id, n.channel_id, n.message_id, n.attempts`,
      [batch],
    );
    this.settings.clear();
    this.templates.clear();
    await Promise.all(claimed.map((notice) => this.deliver(notice)));
    return claimed.length;
  }

  private async deliver(notice: ClaimedNotice): Promise<void> {
    const em = this.orm.em.fork();
    try {
      const suppressed = await this.attempt(em, notice);
      await this.finish(em, notice, suppressed ? 'SUPPRESSED' : 'SENT', suppressed ?? null);
    } catch (error) {
      const failure = error instanceof DeliveryError ? error : new DeliveryError('INTERNAL', false, '');
      // Codes only: a transport's own error text can quote an address.
      const log = { notificationId: notice.id, transport: notice.transport, code: failure.code, attempts: notice.attempts };
      if (failure.code === 'INTERNAL') this.logger.error({ ...log, error: withoutDetails(error) }, 'notification failed');
      if (failure.permanent || notice.attempts >= this.config.maxAttempts) {
        this.logger.warn(log, 'notification given up');
        await this.finish(em, notice, 'FAILED', failure.code);
      } else {
        this.logger.warn(log, 'notification will be retried');
        await this.retryLater(em, notice, failure.code);
      }
    }
  }

  /** Back to waiting, later; where a newer notice already waits for the same person and channel, it carries this one. */
  private async retryLater(em: EntityManager, notice: ClaimedNotice, code: string): Promise<void> {
    this.metrics?.notifications.inc({ transport: notice.transport, outcome: 'RETRY' });
    try {
      await em.execute(
        `update notification set status = 'PENDING', due_at = now() + make_interval(secs => ?), locked_until = null, reason = ?
          where organisation_id = ? and id = ? and status = 'SENDING' and attempts = ?`,
        [this.backoffMs(notice.attempts) / 1000, code, notice.organisation_id, notice.id, notice.attempts],
      );
    } catch (error) {
      if ((error as { code?: string }).code !== '23505') throw error;
      await this.finish(em, notice, 'SUPPRESSED', 'COALESCED');
    }
  }

  private backoffMs(attempts: number): number {
    const base = Math.min(this.config.retryMs * 2 ** (attempts - 1), MAX_BACKOFF_MS);
    return base * (0.8 + Math.random() * 0.4);
  }

  /** Only this claim's outcome counts: a notice reclaimed after its lease ended belongs to the new claim. */
  private async finish(em: EntityManager, notice: ClaimedNotice, status: 'SENT' | 'SUPPRESSED' | 'FAILED', reason: string | null): Promise<void> {
    this.metrics?.notifications.inc({ transport: notice.transport, outcome: status });
    // A failure and the webhook event telling of it commit together.
    await em.transactional(async (tx) => {
      const finished = await tx.execute<Array<{ id: string }>>(
        `update notification set status = ?, reason = ?, sent_at = case when ? = 'SENT' then now() end, locked_until = null
          where organisation_id = ? and id = ? and status = 'SENDING' and attempts = ? returning id`,
        [status, reason, status, notice.organisation_id, notice.id, notice.attempts],
      );
      if (status === 'FAILED' && finished.length > 0) await queueWebhookEvent(tx, notice.organisation_id, notificationFailed(notice, reason));
    });
  }

  /**
   * Whether the team member told of a patient's message can open its channel now: the responders
   * may have changed since the notice was planned, and its link must not lead to nothing.
   */
  private canStillOpen(notice: ClaimedNotice, state: RecipientState, settings: MessagingSettings): boolean {
    if (state.member || !notice.team_member_id || !state.channel_kind) return true;
    const staff: StaffActor = {
      kind: 'staff',
      organisationId: notice.organisation_id,
      teamMemberId: notice.team_member_id,
      permissions: state.permissions ?? [],
      roles: [],
      expiresAt: Number.MAX_SAFE_INTEGER,
    };
    const channel = { kind: state.channel_kind, organisationId: notice.organisation_id, startedByPatient: state.started_by_patient ?? false, startedByClinic: state.started_by_clinic ?? false, status: state.channel_status ?? undefined };
    return channelPolicy.canSee(staff, channel, undefined, answersPatients(staff, settings));
  }

  /** Sends the notice, or says why it should not be sent. */
  private async attempt(em: EntityManager, notice: ClaimedNotice): Promise<Suppression | undefined> {
    const state = await this.recipientState(em, notice);
    const settings = await this.settingsOf(em, notice.organisation_id);
    const person: PersonRef = notice.team_member_id ? { kind: 'staff', teamMemberId: notice.team_member_id } : { kind: 'patient', patientId: notice.patient_id! };
    const suppressed = this.suppression(notice, state, settings);
    if (suppressed) return suppressed;
    const count = notice.kind === 'WEBHOOK_DISABLED' ? 1 : await this.countFor(em, notice, person);
    if (count === 0) return waitsForAnswer(notice) || notice.kind === 'ESCALATION' ? 'ANSWERED' : notice.kind === 'DIGEST' ? 'NOTHING_UNREAD' : 'READ';
    const patientSide = person.kind === 'patient';
    const portal = patientSide ? (settings.patientPortalUrl ?? this.config.patientPortalUrl) : (settings.staffPortalUrl ?? this.config.staffPortalUrl);
    const link = notice.kind === 'WEBHOOK_DISABLED' ? `${portal}/settings/webhooks` : notice.channel_id ? `${portal}/channels/${notice.channel_id}` : `${portal}/channels`;
    const template = await this.templateOf(em, notice.organisation_id, templateKind(notice, patientSide));
    const rendered = renderNotice(template, { organisationName: state.organisation_name, link, count });
    return this.send(em, notice, state, rendered, link);
  }

  private suppression(notice: ClaimedNotice, state: RecipientState, settings: MessagingSettings): Suppression | undefined {
    if (state.person_archived) return 'RECIPIENT_ARCHIVED';
    if (state.portal_access === false) return 'NO_ACCESS';
    if ((waitsForAnswer(notice) || notice.kind === 'ESCALATION') && !this.canStillOpen(notice, state, settings)) return 'NO_ACCESS';
    if (notice.kind === 'MESSAGE') {
      if (!state.member) return 'LEFT';
      if (state.archived) return 'ARCHIVED';
      if (state.muted) return 'MUTED';
    }
    switch (notice.transport) {
      case 'EMAIL': {
        const wanted = notice.kind === 'DIGEST' ? 'DIGEST' : notice.kind === 'MESSAGE' ? 'IMMEDIATE' : undefined;
        // An endpoint turned off is an operational notice to admins, not about messages: their message email preference does not apply.
        if (notice.kind !== 'WEBHOOK_DISABLED' && (wanted ? state.email_mode !== wanted : state.email_mode === 'OFF')) return 'PREFERENCE';
        if (!this.transports.email) return 'NOT_CONFIGURED';
        return state.email_address ? undefined : 'NO_ADDRESS';
      }
      case 'PUSH':
        return state.push ? undefined : 'PREFERENCE';
      case 'SMS':
        if (!state.sms || !settings.smsNotificationsEnabled) return 'PREFERENCE';
        if (!this.transports.sms) return 'NOT_CONFIGURED';
        return state.phone ? undefined : 'NO_ADDRESS';
    }
  }

  /** The count a notice shows; 0 means there is nothing left to tell. */
  private async countFor(em: EntityManager, notice: ClaimedNotice, person: PersonRef): Promise<number> {
    // Still waiting: no team member has answered and the conversation is open (escalation/response-due.ts).
    if (notice.kind === 'ESCALATION') {
      const [{ n }] = await em.execute<Array<{ n: string }>>(
        `select count(*) as n from response_due r where r.organisation_id = ? and r.channel_id = ? and not ${messagePolicy.sql.answersWait('r')}`,
        [notice.organisation_id, notice.channel_id],
      );
      return Number(n);
    }
    if (waitsForAnswer(notice)) {
      const [{ n }] = await em.execute<Array<{ n: string }>>(WAITING_SQL, [notice.organisation_id, notice.channel_id]);
      return Number(n);
    }
    if (notice.kind === 'MESSAGE' && (await unreadTotal(em, notice.organisation_id, person, { channelId: notice.channel_id! })) === 0) return 0;
    return unreadTotal(em, notice.organisation_id, person, { excludeMuted: true });
  }

  private async send(em: EntityManager, notice: ClaimedNotice, state: RecipientState, rendered: RenderedNotice, link: string): Promise<Suppression | undefined> {
    switch (notice.transport) {
      case 'EMAIL':
        await this.transports.email!.send({ id: notice.id, to: state.email_address!, ...rendered });
        return undefined;
      case 'SMS':
        await this.transports.sms!.send(state.phone!, rendered.text, notice.id);
        return undefined;
      case 'PUSH':
        return this.push(em, notice, { id: notice.id, title: rendered.subject, body: rendered.text, url: link });
    }
  }

  /**
   * To every device of the person at once; sent when one took it, retried when all failed for now.
   * Devices that are gone, or whose keys cannot be used, are forgotten.
   */
  private async push(em: EntityManager, notice: ClaimedNotice, push: { id: string; title: string; body: string; url: string }): Promise<Suppression | undefined> {
    const devices = await em.execute<Array<PushTarget & { id: string }>>(
      `select id, kind, address, p256dh, auth, platform from push_subscription
        where organisation_id = ? and (team_member_id = ? or patient_id = ?) order by created_at`,
      [notice.organisation_id, notice.team_member_id, notice.patient_id],
    );
    const reachable = devices.filter((device) => (device.kind === 'WEB' ? this.transports.webPush : this.transports.mobilePush));
    if (reachable.length === 0) return devices.length > 0 ? 'NOT_CONFIGURED' : 'NO_ADDRESS';
    const outcomes = await Promise.allSettled(reachable.map((device) => (device.kind === 'WEB' ? this.transports.webPush! : this.transports.mobilePush!).send(device, push)));
    let retry: DeliveryError | undefined;
    const forget: string[] = [];
    outcomes.forEach((outcome, index) => {
      if (outcome.status === 'fulfilled') {
        if (!outcome.value) forget.push(reachable[index].id);
      } else if (!(outcome.reason instanceof DeliveryError)) {
        // web-push could not encrypt for these keys: the subscription is unusable.
        forget.push(reachable[index].id);
      } else if (!outcome.reason.permanent) retry = outcome.reason;
      else this.logger.warn({ notificationId: notice.id, code: outcome.reason.code }, 'push refused by a device');
    });
    if (forget.length > 0) await em.execute('delete from push_subscription where organisation_id = ? and id = any(?::uuid[])', [notice.organisation_id, uuidArray(forget)]);
    if (outcomes.some((outcome) => outcome.status === 'fulfilled' && outcome.value)) return undefined;
    if (retry) throw retry;
    return 'NO_ADDRESS';
  }

  private async recipientState(em: EntityManager, notice: ClaimedNotice): Promise<RecipientState> {
    const [state] = await em.execute<RecipientState[]>(
      `select o.name as organisation_name,
              coalesce(tm.archived_at, p.archived_at) is not null as person_archived,
              coalesce(tm.email, p.email) as email_address, p.phone, p.portal_access,
              coalesce(np.email, 'IMMEDIATE') as email_mode, coalesce(np.push, true) as push, coalesce(np.sms, true) as sms,
              cm.id is not null as member, cm.archived_at is not null as archived,
              coalesce(cm.muted_at is not null and (cm.muted_until is null or cm.muted_until > now()), false) as muted,
              c.kind as channel_kind, c.started_by_patient, c.started_by_clinic, c.status as channel_status, tm.permissions
         from organisation o
         left join channel c on c.organisation_id = o.id and c.id = ?
         left join team_member tm on tm.organisation_id = o.id and tm.id = ?
         left join patient p on p.organisation_id = o.id and p.id = ?
         left join notification_preference np on np.organisation_id = o.id and (np.team_member_id = ? or np.patient_id = ?)
         left join channel_member cm on cm.organisation_id = o.id and cm.channel_id = ? and cm.left_at is null
               and (cm.team_member_id = ? or cm.patient_id = ?)
        where o.id = ?`,
      [
        notice.channel_id,
        notice.team_member_id,
        notice.patient_id,
        notice.team_member_id,
        notice.patient_id,
        notice.channel_id,
        notice.team_member_id,
        notice.patient_id,
        notice.organisation_id,
      ],
    );
    return state;
  }

  private templateOf(em: EntityManager, organisationId: string, kind: NotificationTemplateKind): Promise<NotificationTemplate> {
    const key = `${organisationId}/${kind}`;
    let template = this.templates.get(key);
    if (!template) this.templates.set(key, (template = loadNotificationTemplates(em, organisationId, [kind]).then(([found]) => found)));
    return template;
  }

  private settingsOf(em: EntityManager, organisationId: string): Promise<MessagingSettings> {
    let settings = this.settings.get(organisationId);
    if (!settings) this.settings.set(organisationId, (settings = loadMessagingSettings(em, organisationId)));
    return settings;
  }
}

/** For partners' monitoring: which notice could not be sent, to whom and why (a code), never what it said or where it went. */
const notificationFailed = (notice: ClaimedNotice, reason: string | null): WebhookEvent => ({
  id: eventId(notice.organisation_id, notice.id, WebhookEventType.NOTIFICATION_FAILED),
  type: WebhookEventType.NOTIFICATION_FAILED,
  occurredAt: new Date(),
  data: {
    organisationId: notice.organisation_id,
    notificationId: notice.id,
    kind: notice.kind,
    transport: notice.transport,
    recipient: notice.team_member_id ? { kind: 'TEAM_MEMBER', id: notice.team_member_id } : { kind: 'PATIENT', id: notice.patient_id },
    channelId: notice.channel_id,
    messageId: notice.message_id,
    reason,
  },
});

/** A notice to those who answer, of a patient's or another clinic's message nobody has answered yet. */
const waitsForAnswer = (notice: { kind: string }) => notice.kind === 'NEW_PATIENT_MESSAGE' || notice.kind === 'NEW_CLINIC_MESSAGE';

/** An unexpected error, for the log, without its message (driver errors quote SQL parameters: addresses). */
export function withoutDetails(error: unknown): { type: string; code?: string; frames: string[] } {
  const { name = 'Error', code, stack = '' } = (error ?? {}) as { name?: string; code?: string; stack?: string };
  return { type: name, code, frames: stack.split('\n').filter((line) => line.trimStart().startsWith('at ')).slice(0, 8) };
}

function templateKind(notice: ClaimedNotice, patientSide: boolean): NotificationTemplateKind {
  if (notice.kind === 'DIGEST') return NotificationTemplateKind.DIGEST_EMAIL;
  if (notice.kind === 'WEBHOOK_DISABLED') return NotificationTemplateKind.WEBHOOK_DISABLED_EMAIL;
  const prefix = waitsForAnswer(notice) || notice.kind === 'ESCALATION' ? notice.kind : patientSide ? 'PATIENT' : 'STAFF';
  return NotificationTemplateKind[`${prefix}_${notice.transport}` as keyof typeof NotificationTemplateKind];
}
