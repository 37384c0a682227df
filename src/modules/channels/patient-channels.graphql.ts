import { Args, Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { connectionOf } from '../../common/graphql-types';
import { ForwardPageArgs, pageRequest } from '../../common/pagination';
import { ApiErrorCode, apiError } from '../../errors';
import { PatientType } from '../directory/directory.types';
import type { Patient } from '../directory/patient.entity';
import { ChannelConnection } from './channel.types';

@Resolver(() => PatientType)
export class PatientChannelsFieldResolver {
  @FieldResolver(() => ChannelConnection, {
    description:
      "The patient's channels in activation order, for the buttons of their profile: staff see every kind but conversations they are not in (messaging admins see those too, and those who answer patients the conversations patients started), with myMembership null where they have not joined (Activate, Join or Open); a patient or guardian sees only those they take part in.",
  })
  async channels(@Root() patient: Patient, @Args(() => ForwardPageArgs) page: ForwardPageArgs, @Ctx() { loaders, services, deps }: Context) {
    const { limit } = pageRequest(page);
    const after = page.after != null ? deps.cursors.keyset.decode(page.after) : undefined;
    if (page.after != null && !after) throw apiError(ApiErrorCode.CURSOR_INVALID, 'The cursor is not valid; start again from the first page.');
    const lists = (await services.channels.answersPatients()) ? loaders.patientChannelsAnswering : loaders.patientChannels;
    const rows = await lists.page({ limit, after }).load(patient.id);
    return connectionOf(rows.slice(0, limit), (channel) => deps.cursors.keyset.encode(channel.createdAt, channel.id), { hasNextPage: rows.length > limit, hasPreviousPage: false });
  }
}
