import type { EntityManager } from '@mikro-orm/postgresql';
import { UserError, UserErrorCode } from '../../errors';
import { TeamMember } from './team-member.entity';
import { Patient } from './patient.entity';

/** Every id names an active (not archived) person of the organisation; otherwise NOT_FOUND on `field`. One query. */
export async function assertActivePeople(
  em: EntityManager,
  organisationId: string,
  entity: typeof TeamMember | typeof Patient,
  ids: readonly string[],
  field: string,
): Promise<void> {
  if (ids.length === 0) return;
  const found = await em.count(entity as typeof TeamMember, { organisationId, id: { $in: [...ids] }, archivedAt: null });
  if (found !== ids.length) throw new UserError(UserErrorCode.NOT_FOUND, entity === Patient ? 'No such patient.' : 'No such team member.', field);
}

/** The active ones of the given team members, by the request's loader (archived and unknown ids left out). */
export async function activeTeamMembers(loader: { loadMany(ids: readonly string[]): Promise<Array<TeamMember | undefined | Error>> }, ids: readonly string[]): Promise<TeamMember[]> {
  const members = await loader.loadMany(ids);
  return members.filter((member): member is TeamMember => member !== undefined && !(member instanceof Error) && !member.archivedAt);
}
