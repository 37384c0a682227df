import type { Actor } from '../auth/actor';
import type { Permission } from '../modules/directory/team-member.entity';

/**
 * What a team member may do beyond ordinary messaging, by the permission it needs. The one
 * place that maps an ability to a permission: services ask `can(actor, action)`, never
 * `permissions.includes(...)`.
 */
const NEEDS: Record<StaffAction, Permission> = {
  createGroup: 'MESSAGING_MANAGEMENT',
  manageGroupMembers: 'MESSAGING_MANAGEMENT',
  removeMembers: 'MESSAGING_MANAGEMENT',
  changeOthersMessages: 'MESSAGING_MANAGEMENT',
  manageSettings: 'MESSAGING_ADMIN',
  manageActivationRules: 'MESSAGING_ADMIN',
  manageTemplates: 'MESSAGING_ADMIN',
  manageNotificationTemplates: 'MESSAGING_ADMIN',
  readAudit: 'MESSAGING_ADMIN',
  listUnstaffedChannels: 'MESSAGING_ADMIN',
  findAnyConversation: 'MESSAGING_ADMIN',
  readAddressedNotes: 'MESSAGING_ADMIN',
  manageWebhooks: 'MESSAGING_ADMIN',
};

export type StaffAction =
  /** groupChannelCreate */
  | 'createGroup'
  /** channelMembersAdd to a GROUP */
  | 'manageGroupMembers'
  /** channelMemberRemove */
  | 'removeMembers'
  /** messageEdit / messageDelete of someone else's message */
  | 'changeOthersMessages'
  /** messagingSettingsUpdate */
  | 'manageSettings'
  /** activationRuleUpdate */
  | 'manageActivationRules'
  /** messageTemplateCreate / Update / Delete */
  | 'manageTemplates'
  /** notificationTemplates, notificationTemplateUpdate / Reset */
  | 'manageNotificationTemplates'
  /** auditEvents */
  | 'readAudit'
  /** unstaffedChannels */
  | 'listUnstaffedChannels'
  /** find and join conversations one is not in (to staff one left without a responder) */
  | 'findAnyConversation'
  /** read internal notes addressed to role groups one is not in */
  | 'readAddressedNotes'
  /** webhook endpoints and their delivery log; told when one is turned off */
  | 'manageWebhooks';

/** The permission an action needs (for SQL that decides it for a reader who is not the caller). */
export const permissionFor = (action: StaffAction): Permission => NEEDS[action];

/** May the caller do this? Only team members holding the action's permission may. */
export function can(actor: Actor | undefined, action: StaffAction): boolean {
  return actor?.kind === 'staff' && actor.permissions.includes(NEEDS[action]);
}
