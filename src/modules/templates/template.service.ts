import { z } from 'zod';
import type { RequestScope } from '../../graphql/context';
import { auditedTransaction } from '../audit/audit-log';
import type { EntityManager } from '@mikro-orm/postgresql';
import { can } from '../../policy/permissions';
import type { Config } from '../../config';
import { requireStaff, type StaffActor } from '../../auth/actor';
import { UserError, UserErrorCode, forbidden } from '../../errors';
import { messageBody, parseInput, perConfig, requiredText, uuid } from '../../common/validation';
import { fillPlaceholders, unknownPlaceholders } from '../../common/placeholders';
import type { OrganisationService } from '../organisations/organisation.service';

export interface MessageTemplate {
  id: string;
  name: string;
  body: string;
  updatedAt: Date;
}

/** The placeholders a template may use: nothing but a first name and the clinic's name. */
const PLACEHOLDERS = ['patient.firstName', 'clinic.name'] as const;

/** Markdown punctuation in a substituted value is escaped: a name cannot turn into a link or formatting. */
const escapeMarkdown = (value: string) => value.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, (char) => `\\${char}`);

/** What TemplateService works with besides the request. */
export interface TemplateServiceDeps {
  config: Config;
  organisations: OrganisationService;
}

const inputs = perConfig((config: Config) => {
  const body = messageBody(config.limits.messageBodyChars).refine((text) => unknownPlaceholders(text, PLACEHOLDERS).length === 0, {
    message: `Templates may use only ${PLACEHOLDERS.map((name) => `{{${name}}}`).join(' and ')}.`,
  });
  const createInput = z.object({ name: requiredText('The name', 100), body });
  const updateInput = z.object({ templateId: uuid('The template id'), name: requiredText('The name', 100).nullish(), body: body.nullish() });
  return { createInput, updateInput };
});

const deleteInput = z.object({ templateId: uuid('The template id') });

/** Templates of an organisation: written by messaging admins, used by staff in messageSend and conversationStart. */
export class TemplateService {

  constructor(
    private readonly scope: RequestScope,
    private readonly deps: TemplateServiceDeps,
  ) {}

  private admin(): StaffActor {
    const actor = requireStaff(this.scope.actor);
    if (!can(actor, 'manageTemplates')) throw new UserError(UserErrorCode.FORBIDDEN, 'Templates are managed with the Messaging Admin permission.');
    return actor;
  }

  /** Every template of the organisation, by name. Staff. */
  async list(): Promise<MessageTemplate[]> {
    const actor = this.scope.actor;
    if (actor?.kind !== 'staff') throw forbidden();
    const rows = await this.scope.em.execute<TemplateRow[]>('select id, name, body, updated_at from message_template where organisation_id = ? order by name, id', [actor.organisationId]);
    return rows.map(toTemplate);
  }

  async create(input: unknown): Promise<MessageTemplate> {
    const actor = this.admin();
    const data = parseInput(inputs(this.deps.config).createInput, input);
    return this.write((em) =>
      em.execute<TemplateRow[]>(
        'insert into message_template (organisation_id, name, body, created_by_team_member_id) values (?, ?, ?, ?) returning id, name, body, updated_at',
        [actor.organisationId, data.name, data.body, actor.teamMemberId],
      ),
    );
  }

  async update(input: unknown): Promise<MessageTemplate> {
    const actor = this.admin();
    const data = parseInput(inputs(this.deps.config).updateInput, input);
    return this.write((em) =>
      em.execute<TemplateRow[]>(
        `update message_template set name = coalesce(?, name), body = coalesce(?, body), updated_at = now()
          where organisation_id = ? and id = ? returning id, name, body, updated_at`,
        [data.name ?? null, data.body ?? null, actor.organisationId, data.templateId],
      ),
    );
  }

  async delete(input: unknown): Promise<MessageTemplate> {
    const actor = this.admin();
    const { templateId } = parseInput(deleteInput, input);
    return this.write((em) =>
      em.execute<TemplateRow[]>('delete from message_template where organisation_id = ? and id = ? returning id, name, body, updated_at', [actor.organisationId, templateId]),
    );
  }

  private async write(statement: (em: EntityManager) => Promise<TemplateRow[]>): Promise<MessageTemplate> {
    try {
      return await auditedTransaction(this.scope, async (em) => {
        const [row] = await statement(em);
        if (!row) throw new UserError(UserErrorCode.NOT_FOUND, 'No such template.', 'input.templateId');
        return toTemplate(row);
      });
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new UserError(UserErrorCode.INVALID_INPUT, 'Another template has this name.', 'input.name');
      throw error;
    }
  }

  /**
   * The body a template gives in a channel: its placeholders filled with the patient's first name
   * and the organisation's name. Staff only; a template naming the patient needs a patient channel.
   */
  async render(templateId: string, patientId: string | null | undefined): Promise<string> {
    const actor = this.scope.actor;
    if (actor?.kind !== 'staff') throw new UserError(UserErrorCode.FORBIDDEN, 'Templates are for team members.', 'input.templateId');
    const [row] = await this.scope.em.execute<TemplateRow[]>('select id, name, body, updated_at from message_template where organisation_id = ? and id = ?', [
      actor.organisationId,
      templateId,
    ]);
    if (!row) throw new UserError(UserErrorCode.NOT_FOUND, 'No such template.', 'input.templateId');
    const [patient, organisation] = await Promise.all([
      patientId ? this.scope.loaders.patient.load(patientId) : undefined,
      this.deps.organisations.findById(actor.organisationId),
    ]);
    const values: Record<string, string | undefined> = { 'patient.firstName': patient?.name.split(/\s+/)[0], 'clinic.name': organisation?.name };
    const { text: body, missing } = fillPlaceholders(row.body, values, escapeMarkdown);
    if (missing) throw new UserError(UserErrorCode.INVALID_INPUT, `This template uses {{${missing}}}, which this channel does not have.`, 'input.templateId');
    return body;
  }
}

interface TemplateRow {
  id: string;
  name: string;
  body: string;
  updated_at: string;
}

const toTemplate = (row: TemplateRow): MessageTemplate => ({ id: row.id, name: row.name, body: row.body, updatedAt: new Date(row.updated_at) });
