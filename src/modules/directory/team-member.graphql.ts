import { Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { peoplePolicy } from '../../policy/people';
import type { Permission, TeamMember } from './team-member.entity';
import { PermissionEnum, TeamMemberType } from './directory.types';

/** The fields of a team member; what the caller sees of them is the people policy's. */
@Resolver(() => TeamMemberType)
export class TeamMemberFieldResolver {
  @FieldResolver(() => String, { description: 'Name to show beside their messages (staff always show their real name).' })
  displayName(@Root() member: TeamMember): string {
    return member.name;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Full name (team members always show their real name; never null for a team member).' })
  fullName(@Root() member: TeamMember): string {
    return member.name;
  }

  @FieldResolver(() => String, { nullable: true, description: 'A short-lived URL of the avatar they chose (profileUpdate); null when none. Whoever sees the team member.' })
  async avatarUrl(@Root() member: TeamMember, @Ctx() { loaders, services }: Context): Promise<string | null> {
    if (!member.avatarAttachmentId) return null;
    const avatar = await loaders.attachment.load(member.avatarAttachmentId);
    return avatar ? services.attachments.downloadUrl(avatar).url : null;
  }

  @FieldResolver(() => String, { nullable: true, description: "Id in the customer's own system. Staff and services only; null for patients." })
  externalId(@Root() member: TeamMember, @Ctx() { actor }: Context): string | null {
    return peoplePolicy.seesDirectoryDetails(actor, member) ? member.externalId : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Work email. Staff and services only; null for patients.' })
  email(@Root() member: TeamMember, @Ctx() { actor }: Context): string | null {
    return peoplePolicy.seesDirectoryDetails(actor, member) ? (member.email ?? null) : null;
  }

  @FieldResolver(() => [PermissionEnum], { description: 'Messaging permissions held. Empty when seen by a patient.' })
  permissions(@Root() member: TeamMember, @Ctx() { actor }: Context): Permission[] {
    return peoplePolicy.seesDirectoryDetails(actor, member) ? member.permissions : [];
  }

  @FieldResolver(() => [String], { description: 'Role groups, e.g. "Clinician" or "Appointment Reminder Admin". Staff and services only; empty for patients.' })
  roles(@Root() member: TeamMember, @Ctx() { actor }: Context): string[] {
    return peoplePolicy.seesDirectoryDetails(actor, member) ? member.roles : [];
  }

  @FieldResolver(() => Boolean, { nullable: true, description: 'Archived team members cannot sign in and are not added to channels. Staff and services only.' })
  archived(@Root() member: TeamMember, @Ctx() { actor }: Context): boolean | null {
    return peoplePolicy.seesDirectoryDetails(actor, member) ? member.archivedAt != null : null;
  }

  @FieldResolver(() => Boolean, { nullable: true, description: 'Whether they may start a conversation (conversationStart) under the messaging settings. Only on `me`; null for anyone else.' })
  canStartConversation(@Root() member: TeamMember, @Ctx() { actor, services }: Context): Promise<boolean> | null {
    return peoplePolicy.isSelf(actor, member) ? services.messagingSettings.canStartConversation(actor) : null;
  }

  @FieldResolver(() => Boolean, { nullable: true, description: 'Whether they may attach files to messages. Only on `me`; null for anyone else.' })
  canUploadAttachments(@Root() member: TeamMember, @Ctx() { actor, services }: Context): Promise<boolean> | null {
    return peoplePolicy.isSelf(actor, member) ? services.messagingSettings.canUploadAttachments(actor) : null;
  }
}

/** The organisation's role groups: what internal notes can be addressed to. */
@Resolver()
export class RoleGroupResolver {
  @Query(() => [String], { description: 'The role groups active team members hold, sorted (what an internal note can be addressed to with `audienceRoles`). Staff and services.' })
  roleGroups(@Ctx() { services }: Context): Promise<string[]> {
    return services.directory.roleGroups();
  }
}
