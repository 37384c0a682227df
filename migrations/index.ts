import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261123090000Foundation } from './Migration20261123090000Foundation';
import { Migration20261123140000LiveDelivery } from './Migration20261123140000LiveDelivery';
import { Migration20261123160000AuditLog } from './Migration20261123160000AuditLog';
import { Migration20261123170000DirectAndGroupChannels } from './Migration20261123170000DirectAndGroupChannels';
import { Migration20261123180000ActivationRules } from './Migration20261123180000ActivationRules';
import { Migration20261123190000ConversationsAndSettings } from './Migration20261123190000ConversationsAndSettings';
import { Migration20261123200000MessageFeatures } from './Migration20261123200000MessageFeatures';
import { Migration20261123210000Attachments } from './Migration20261123210000Attachments';
import { Migration20261123220000TemplatesAndAutoReplies } from './Migration20261123220000TemplatesAndAutoReplies';
import { Migration20261123230000Notifications } from './Migration20261123230000Notifications';
import { Migration20261202120000PatientStartedConversations } from './Migration20261202120000PatientStartedConversations';
import { Migration20261202160000AddressedNotes } from './Migration20261202160000AddressedNotes';
import { Migration20261202170000RateLimits } from './Migration20261202170000RateLimits';
import { Migration20261202180000AuditClientRequestId } from './Migration20261202180000AuditClientRequestId';
import { Migration20261202190000GroupHistory } from './Migration20261202190000GroupHistory';
import { Migration20261202200000ChartDocuments } from './Migration20261202200000ChartDocuments';
import { Migration20261202210000ClinicConversations } from './Migration20261202210000ClinicConversations';
import { Migration20261202220000Handovers } from './Migration20261202220000Handovers';
import { Migration20261203060000StaffAvatars } from './Migration20261203060000StaffAvatars';
import { Migration20261203080000Webhooks } from './Migration20261203080000Webhooks';
import { Migration20261203090000Escalation } from './Migration20261203090000Escalation';

/** Every migration, in order. Listed explicitly so compiled and ts-jest runs find the same set. */
export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261123090000Foundation', class: Migration20261123090000Foundation },
  { name: 'Migration20261123140000LiveDelivery', class: Migration20261123140000LiveDelivery },
  { name: 'Migration20261123160000AuditLog', class: Migration20261123160000AuditLog },
  { name: 'Migration20261123170000DirectAndGroupChannels', class: Migration20261123170000DirectAndGroupChannels },
  { name: 'Migration20261123180000ActivationRules', class: Migration20261123180000ActivationRules },
  { name: 'Migration20261123190000ConversationsAndSettings', class: Migration20261123190000ConversationsAndSettings },
  { name: 'Migration20261123200000MessageFeatures', class: Migration20261123200000MessageFeatures },
  { name: 'Migration20261123210000Attachments', class: Migration20261123210000Attachments },
  { name: 'Migration20261123220000TemplatesAndAutoReplies', class: Migration20261123220000TemplatesAndAutoReplies },
  { name: 'Migration20261123230000Notifications', class: Migration20261123230000Notifications },
  { name: 'Migration20261202120000PatientStartedConversations', class: Migration20261202120000PatientStartedConversations },
  { name: 'Migration20261202160000AddressedNotes', class: Migration20261202160000AddressedNotes },
  { name: 'Migration20261202170000RateLimits', class: Migration20261202170000RateLimits },
  { name: 'Migration20261202180000AuditClientRequestId', class: Migration20261202180000AuditClientRequestId },
  { name: 'Migration20261202190000GroupHistory', class: Migration20261202190000GroupHistory },
  { name: 'Migration20261202200000ChartDocuments', class: Migration20261202200000ChartDocuments },
  { name: 'Migration20261202210000ClinicConversations', class: Migration20261202210000ClinicConversations },
  { name: 'Migration20261202220000Handovers', class: Migration20261202220000Handovers },
  { name: 'Migration20261203060000StaffAvatars', class: Migration20261203060000StaffAvatars },
  { name: 'Migration20261203080000Webhooks', class: Migration20261203080000Webhooks },
  { name: 'Migration20261203090000Escalation', class: Migration20261203090000Escalation },
];
