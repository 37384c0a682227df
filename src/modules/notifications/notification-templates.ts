import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { textArray } from '../../db/sql';
import { fillPlaceholders, unknownPlaceholders } from '../../common/placeholders';
import sanitizeHtml from 'sanitize-html';

/**
 * What a notice says. Each kind is one audience and transport; an organisation may customise any
 * of them. None of them can carry health information: the only placeholders are the
 * organisation's name, a link and a count.
 */
export enum NotificationTemplateKind {
  PATIENT_EMAIL = 'PATIENT_EMAIL',
  PATIENT_PUSH = 'PATIENT_PUSH',
  PATIENT_SMS = 'PATIENT_SMS',
  STAFF_EMAIL = 'STAFF_EMAIL',
  STAFF_PUSH = 'STAFF_PUSH',
  NEW_PATIENT_MESSAGE_EMAIL = 'NEW_PATIENT_MESSAGE_EMAIL',
  NEW_PATIENT_MESSAGE_PUSH = 'NEW_PATIENT_MESSAGE_PUSH',
  NEW_CLINIC_MESSAGE_EMAIL = 'NEW_CLINIC_MESSAGE_EMAIL',
  NEW_CLINIC_MESSAGE_PUSH = 'NEW_CLINIC_MESSAGE_PUSH',
  DIGEST_EMAIL = 'DIGEST_EMAIL',
  WEBHOOK_DISABLED_EMAIL = 'WEBHOOK_DISABLED_EMAIL',
  ESCALATION_EMAIL = 'ESCALATION_EMAIL',
  ESCALATION_PUSH = 'ESCALATION_PUSH',
}

export const NOTIFICATION_PLACEHOLDERS = ['organisation.name', 'link', 'count'] as const;

export interface NotificationTemplate {
  kind: NotificationTemplateKind;
  /** Email subject or push title; empty for SMS. */
  subject: string;
  text: string;
  /** Email only; empty: a plain-text email. */
  html: string;
  customised: boolean;
  updatedAt: Date | null;
}

type Transport = 'EMAIL' | 'PUSH' | 'SMS';
export const transportOfTemplate = (kind: NotificationTemplateKind): Transport => (kind.endsWith('_EMAIL') ? 'EMAIL' : kind.endsWith('_PUSH') ? 'PUSH' : 'SMS');

/** Limits per transport: an SMS is at most three segments, a push fits a lock screen. */
const LIMITS: Record<Transport, { subject: number; text: number; html: number }> = {
  EMAIL: { subject: 200, text: 5_000, html: 20_000 },
  PUSH: { subject: 100, text: 300, html: 0 },
  SMS: { subject: 0, text: 480, html: 0 },
};

const html = (heading: string, body: string, action: string) =>
  `<p>${heading}</p>\n<p>${body}</p>\n<p><a href="{{link}}">${action}</a></p>\n<p style="color:#666;font-size:12px">For your privacy, messages are not included in email. This is an automatic notice from {{organisation.name}}.</p>`;

const DEFAULTS: Record<NotificationTemplateKind, Omit<NotificationTemplate, 'kind' | 'customised' | 'updatedAt'>> = {
  PATIENT_EMAIL: {
    subject: 'You have a new message from {{organisation.name}}',
    text: 'Hello,\n\nYou have {{count}} unread message(s) from {{organisation.name}}. For your privacy, messages are not included in email.\n\nRead them securely: {{link}}\n',
    html: html('Hello,', 'You have {{count}} unread message(s) from {{organisation.name}}.', 'Read them securely'),
  },
  PATIENT_PUSH: { subject: '{{organisation.name}}', text: 'You have a new message.', html: '' },
  PATIENT_SMS: { subject: '', text: '{{organisation.name}}: you have a new secure message. Read it at {{link}}', html: '' },
  STAFF_EMAIL: {
    subject: 'Unread messages at {{organisation.name}}',
    text: 'You have {{count}} unread message(s) at {{organisation.name}}.\n\nOpen them: {{link}}\n',
    html: html('Hello,', 'You have {{count}} unread message(s) at {{organisation.name}}.', 'Open them'),
  },
  STAFF_PUSH: { subject: '{{organisation.name}}', text: 'You have unread messages.', html: '' },
  NEW_PATIENT_MESSAGE_EMAIL: {
    subject: 'A patient is waiting for a reply at {{organisation.name}}',
    text: 'A patient has written and nobody has read it yet ({{count}} waiting).\n\nOpen it: {{link}}\n',
    html: html('Hello,', 'A patient has written and nobody has read it yet ({{count}} waiting).', 'Open it'),
  },
  NEW_PATIENT_MESSAGE_PUSH: { subject: '{{organisation.name}}', text: 'A patient is waiting for a reply.', html: '' },
  NEW_CLINIC_MESSAGE_EMAIL: {
    subject: 'Another clinic is waiting for a reply at {{organisation.name}}',
    text: 'Another clinic has written and nobody has read it yet ({{count}} waiting).\n\nOpen it: {{link}}\n',
    html: html('Hello,', 'Another clinic has written and nobody has read it yet ({{count}} waiting).', 'Open it'),
  },
  NEW_CLINIC_MESSAGE_PUSH: { subject: '{{organisation.name}}', text: 'Another clinic is waiting for a reply.', html: '' },
  DIGEST_EMAIL: {
    subject: 'Your daily summary from {{organisation.name}}',
    text: 'You have {{count}} unread message(s) at {{organisation.name}}.\n\nOpen them: {{link}}\n',
    html: html('Your daily summary:', 'You have {{count}} unread message(s) at {{organisation.name}}.', 'Open them'),
  },
  WEBHOOK_DISABLED_EMAIL: {
    subject: 'A webhook endpoint of {{organisation.name}} was turned off',
    text: 'A webhook endpoint of {{organisation.name}} failed for a long time and was turned off. Events are not sent to it until it is turned on again.\n\nCheck it: {{link}}\n',
    html: html('Hello,', 'A webhook endpoint of {{organisation.name}} failed for a long time and was turned off. Events are not sent to it until it is turned on again.', 'Check it'),
  },
  ESCALATION_EMAIL: {
    subject: 'Overdue: a patient is waiting for a reply at {{organisation.name}}',
    text: 'A patient has waited longer than the response target of {{organisation.name}} and nobody has replied yet.\n\nReply now: {{link}}\n',
    html: html('Hello,', 'A patient has waited longer than the response target of {{organisation.name}} and nobody has replied yet.', 'Reply now'),
  },
  ESCALATION_PUSH: { subject: '{{organisation.name}}', text: 'Overdue: a patient is waiting for a reply.', html: '' },
};

export const defaultTemplate = (kind: NotificationTemplateKind): NotificationTemplate => ({ kind, ...DEFAULTS[kind], customised: false, updatedAt: null });

const onlyPlaceholders = (text: string) => unknownPlaceholders(text, NOTIFICATION_PLACEHOLDERS).length === 0;
const PLACEHOLDER_RULE = `Only ${NOTIFICATION_PLACEHOLDERS.map((name) => `{{${name}}}`).join(', ')} may be used: nothing in a notice may identify a patient or their care.`;

/**
 * The HTML an email template may hold: text formatting, lists, simple tables and links (to
 * https, mailto or the `{{link}}` placeholder). No scripts, styles sheets, forms, frames or images:
 * nothing runs, nothing is fetched when the email is opened (no tracking pixel, no remote content).
 */
const EMAIL_HTML: sanitizeHtml.IOptions = {
  allowedTags: ['p', 'br', 'hr', 'strong', 'b', 'em', 'i', 'u', 'small', 'span', 'div', 'h1', 'h2', 'h3', 'ul', 'ol', 'li', 'blockquote', 'a', 'table', 'thead', 'tbody', 'tr', 'td', 'th'],
  allowedAttributes: { a: ['href', 'title'], td: ['colspan', 'rowspan', 'align'], th: ['colspan', 'rowspan', 'align'], '*': ['style'] },
  allowedStyles: {
    '*': {
      color: [/^#[0-9a-f]{3,6}$/i, /^[a-z]+$/i],
      'background-color': [/^#[0-9a-f]{3,6}$/i, /^[a-z]+$/i],
      'font-weight': [/^(normal|bold|\d{3})$/],
      'font-size': [/^\d{1,2}(px|em|%)$/],
      'text-align': [/^(left|right|center)$/],
      padding: [/^[\d\s.pxem%]+$/],
      margin: [/^[\d\s.pxem%]+$/],
    },
  },
  allowedSchemes: ['https', 'mailto'],
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
};

/** An email template's HTML reduced to the safe subset (EMAIL_HTML); what is left is what is stored and sent. */
export const sanitizeEmailHtml = (html: string): string => sanitizeHtml(html, EMAIL_HTML);

/** Validation of a customised template for its kind (the parts its transport has, within its limits). */
export const templateInput = z
  .object({
    kind: z.nativeEnum(NotificationTemplateKind),
    subject: z.string().nullish(),
    text: z.string(),
    html: z
      .string()
      .nullish()
      .transform((html) => (html ? sanitizeEmailHtml(html) : html)),
  })
  .superRefine((data, ctx) => {
    const limits = LIMITS[transportOfTemplate(data.kind)];
    const parts: Array<['subject' | 'text' | 'html', string | null | undefined, number]> = [
      ['subject', data.subject, limits.subject],
      ['text', data.text, limits.text],
      ['html', data.html, limits.html],
    ];
    for (const [field, value, max] of parts) {
      if (!value) continue;
      if (max === 0) ctx.addIssue({ code: 'custom', path: [field], message: `A ${transportOfTemplate(data.kind).toLowerCase()} notice has no ${field}.` });
      else if (value.length > max) ctx.addIssue({ code: 'custom', path: [field], message: `At most ${max} characters.` });
      else if (value.includes('\u0000')) ctx.addIssue({ code: 'custom', path: [field], message: 'No NUL characters.' });
      else if (!onlyPlaceholders(value)) ctx.addIssue({ code: 'custom', path: [field], message: PLACEHOLDER_RULE });
    }
    if (data.text.trim() === '') ctx.addIssue({ code: 'custom', path: ['text'], message: 'The text must not be empty.' });
    if (limits.subject > 0 && !data.subject?.trim()) ctx.addIssue({ code: 'custom', path: ['subject'], message: 'A subject (or push title) is required.' });
    if (data.subject && /[\r\n]/.test(data.subject)) ctx.addIssue({ code: 'custom', path: ['subject'], message: 'The subject is one line.' });
  });

interface TemplateRow {
  kind: NotificationTemplateKind;
  subject: string;
  text_body: string;
  html_body: string;
  updated_at: string;
}

const fromRow = (row: TemplateRow): NotificationTemplate => ({
  kind: row.kind,
  subject: row.subject,
  text: row.text_body,
  html: row.html_body,
  customised: true,
  updatedAt: new Date(row.updated_at),
});

/** Every kind, customised where the organisation saved one. */
export async function loadNotificationTemplates(em: EntityManager, organisationId: string, kinds?: NotificationTemplateKind[]): Promise<NotificationTemplate[]> {
  const rows = await em.execute<TemplateRow[]>(
    `select kind, subject, text_body, html_body, updated_at from notification_template where organisation_id = ? ${kinds ? 'and kind = any(?::text[])' : ''}`,
    kinds ? [organisationId, textArray(kinds)] : [organisationId],
  );
  return (kinds ?? Object.values(NotificationTemplateKind)).map((kind) => {
    const row = rows.find((candidate) => candidate.kind === kind);
    return row ? fromRow(row) : defaultTemplate(kind);
  });
}

export async function saveNotificationTemplate(em: EntityManager, organisationId: string, teamMemberId: string, data: z.output<typeof templateInput>): Promise<NotificationTemplate> {
  const [row] = await em.execute<TemplateRow[]>(
    `insert into notification_template (organisation_id, kind, subject, text_body, html_body, updated_by_team_member_id) values (?, ?, ?, ?, ?, ?)
     on conflict (organisation_id, kind) do update set subject = excluded.subject, text_body = excluded.text_body, html_body = excluded.html_body,
       updated_by_team_member_id = excluded.updated_by_team_member_id, updated_at = now()
     returning kind, subject, text_body, html_body, updated_at`,
    [organisationId, data.kind, data.subject?.trim() ?? '', data.text, data.html ?? '', teamMemberId],
  );
  return fromRow(row);
}

export async function resetNotificationTemplate(em: EntityManager, organisationId: string, kind: NotificationTemplateKind): Promise<NotificationTemplate> {
  await em.execute('delete from notification_template where organisation_id = ? and kind = ?', [organisationId, kind]);
  return defaultTemplate(kind);
}

/** The PHI-free values a notice is filled with. */
export interface NoticeValues {
  organisationName: string;
  link: string;
  count: number;
}

export interface RenderedNotice {
  subject: string;
  text: string;
  html?: string;
}

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

export function renderNotice(template: NotificationTemplate, values: NoticeValues): RenderedNotice {
  const map = { 'organisation.name': values.organisationName, link: values.link, count: values.count > 999 ? '999+' : String(values.count) };
  const fill = (text: string, escape?: (value: string) => string) => fillPlaceholders(text, map, escape).text;
  return {
    // A subject is one line whatever an organisation's name holds.
    subject: fill(template.subject).replace(/[\r\n]+/g, ' '),
    text: fill(template.text),
    // Sanitised again as sent: templates stored before sanitising on save was introduced are made safe too.
    html: template.html ? fill(sanitizeEmailHtml(template.html), escapeHtml) : undefined,
  };
}
