import { z } from 'zod';
import type { RequestScope } from '../../graphql/context';
import { auditedTransaction } from '../audit/audit-log';
import { can } from '../../policy/permissions';
import { requireStaff, type StaffActor } from '../../auth/actor';
import { UserError, UserErrorCode, forbidden } from '../../errors';
import { parseInput } from '../../common/validation';
import {
  loadNotificationTemplates,
  NotificationTemplateKind,
  resetNotificationTemplate,
  saveNotificationTemplate,
  templateInput,
  type NotificationTemplate,
} from './notification-templates';

const resetInput = z.object({ kind: z.nativeEnum(NotificationTemplateKind) });

/** What notices say, per organisation: read and changed with MESSAGING_ADMIN. */
export class NotificationTemplateService {
  constructor(private readonly scope: RequestScope) {}

  private admin(): StaffActor {
    const actor = requireStaff(this.scope.actor);
    if (!can(actor, 'manageNotificationTemplates')) throw new UserError(UserErrorCode.FORBIDDEN, 'Notification templates are managed with the Messaging Admin permission.');
    return actor;
  }

  list(): Promise<NotificationTemplate[]> {
    const actor = requireStaff(this.scope.actor);
    if (!can(actor, 'manageNotificationTemplates')) throw forbidden();
    return loadNotificationTemplates(this.scope.em, actor.organisationId);
  }

  update(input: unknown): Promise<NotificationTemplate> {
    const actor = this.admin();
    const template = parseInput(templateInput, input);
    return auditedTransaction(this.scope, (em) => saveNotificationTemplate(em, actor.organisationId, actor.teamMemberId, template));
  }

  reset(input: unknown): Promise<NotificationTemplate> {
    const actor = this.admin();
    const { kind } = parseInput(resetInput, input);
    return auditedTransaction(this.scope, (em) => resetNotificationTemplate(em, actor.organisationId, kind));
  }
}
