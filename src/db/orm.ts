import 'reflect-metadata';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { Logger } from 'pino';
import { migrationsConfig } from './migrate';
import { Organisation } from '../modules/organisations/organisation.entity';
import { Patient, PatientGuardian } from '../modules/directory/patient.entity';
import { TeamMember } from '../modules/directory/team-member.entity';
import { Channel, ChannelMember } from '../modules/channels/channel.entity';
import { Message } from '../modules/messages/message.entity';
import { ChannelEventRecord } from '../realtime/channel-event.entity';
import { Attachment } from '../modules/attachments/attachment.entity';
import { ChartDocument } from '../modules/chart/chart-document.entity';
import { Handover } from '../modules/clinics/handover.entity';

export const entities = [Organisation, TeamMember, Patient, PatientGuardian, Channel, ChannelMember, Message, ChannelEventRecord, Attachment, ChartDocument, Handover];

export interface OrmOptions {
  databaseUrl: string;
  logger?: Logger;
  poolMax?: number;
}

export function ormConfig({ databaseUrl, logger, poolMax = 10 }: OrmOptions): Options {
  return {
    clientUrl: databaseUrl,
    entities,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: true },
    // Request handlers always work on a fork that carries the caller's organisation.
    allowGlobalContext: false,
    forceUtcTimezone: true,
    pool: {
      min: 0,
      max: poolMax,
      // Short OLTP queries: JIT compilation (triggered by pessimistic cost estimates on large
      // tables) costs far more than it saves, e.g. 300 ms on a 1 ms unread-count query.
      afterCreate: (connection: { query(sql: string, done: (error?: Error) => void): void }, done: (error: Error | undefined, connection: unknown) => void) =>
        connection.query('set jit = off', (error) => done(error, connection)),
    },
    debug: logger?.isLevelEnabled('trace') ?? false,
    logger: (message) => logger?.trace({ orm: true }, message),
    migrations: migrationsConfig,
  };
}

export async function openDatabase(options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init(ormConfig(options));
}
