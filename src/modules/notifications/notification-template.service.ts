import { z } from 'zod';
import type { Context } from '../../graphql/context';
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
  constructor(private readonly context: Context) {}

  private admin(): StaffActor {
    const actor = requireStaff(this.context.actor);
    if (!actor.permissions.includes('MESSAGING_ADMIN')) throw new UserError(UserErrorCode.FORBIDDEN, 'Notification templates are managed with the Messaging Admin permission.');
    return actor;
  }

  list(): Promise<NotificationTemplate[]> {
    const actor = requireStaff(this.context.actor);
    if (!actor.permissions.includes('MESSAGING_ADMIN')) throw forbidden();
    return loadNotificationTemplates(this.context.em, actor.organisationId);
  }

  update(input: unknown): Promise<NotificationTemplate> {
    const actor = this.admin();
    return saveNotificationTemplate(this.context.em, actor.organisationId, actor.teamMemberId, parseInput(templateInput, input));
  }

  reset(input: unknown): Promise<NotificationTemplate> {
    const actor = this.admin();
    return resetNotificationTemplate(this.context.em, actor.organisationId, parseInput(resetInput, input).kind);
  }
}
