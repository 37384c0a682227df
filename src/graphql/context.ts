import type { Metrics } from '../telemetry/metrics';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Actor, StaffActor } from '../auth/actor';
import type { Config } from '../config';
import type { CursorCodec } from '../common/cursor';
import type { EventBus } from '../realtime/bus';
import type { LiveHub } from '../realtime/live-hub';
import type { FileStore } from '../modules/attachments/file-store';
import { AuditTrail, type AuditLog } from '../modules/audit/audit-log';
import type { SettingsCache } from '../modules/settings/settings-cache';
import type { RateLimits } from '../modules/rate-limits/rate-limits';
import type { SecretBox } from '../modules/webhooks/webhook-secrets';
import { TENANT_FILTER } from '../db/tenant';
import { plainReader } from '../db/prepared';
import { createLoaders, type Loaders } from './loaders';
import { primeLoaders, type RelatedRows } from '../realtime/event-batch';
import { createServices, type Services } from './services';

/** Long-lived collaborators shared by every request. */
export interface AppDeps {
  config: Config;
  orm: MikroORM;
  bus: EventBus;
  /** This process's shared live feeds, open connections and typing listeners. */
  live: LiveHub;
  cursors: CursorCodec;
  /** Where attachment bytes are kept. */
  files: FileStore;
  logger: Logger;
  /** Audit records of reads and of attempts that changed nothing, written in batches. */
  auditLog: AuditLog;
  /** Each organisation's messaging settings, kept briefly by this process. */
  settingsCache: SettingsCache;
  /** Abuse limits per person, organisation and address. */
  rateLimits: RateLimits;
  /** Carries envelopes between clinics; kicked after a send committed one. */
  clinicRelay: { kick(): void };
  /** Prometheus metrics of this process. */
  metrics: Metrics;
  /** Seals webhook signing secrets at rest. */
  webhookSecrets: SecretBox;
  /** Delivers webhooks; kicked when an endpoint is turned on or a delivery replayed. */
  webhookDispatcher: { kick(): void };
  /** What time it is for response targets and escalation (tests move it on). */
  clock: () => Date;
}

/**
 * What a service of one operation works with: who asks, a database view scoped to their
 * organisation, its batch loaders. Services get this and their collaborators explicitly
 * (see services.ts), never the whole context.
 */
export interface RequestScope {
  readonly actor?: Actor;
  /** A fork scoped to the actor's organisation; tenant-owned queries fail without one. */
  readonly em: EntityManager;
  /** For plain statements (`preparedRows`) outside any transaction, without forking `em`. */
  readonly db: EntityManager;
  readonly loaders: Loaders;
  readonly logger: Logger;
  /** For subscriptions: aborted when their connection starts closing, so streams stop reading at once. */
  readonly connectionSignal?: AbortSignal;
  /** Drops cached rows and built services between events of a long-lived subscription (and the memory they hold). */
  reset(): void;
  /** Like reset, but the rows handed over with `prime` stay: loaders built again start from them. */
  release(): void;
  /** Rows a batch of events refers to: the loaders answer from them, once built, without a query. */
  prime(related: readonly RelatedRows[]): void;
  /** The audit record of the operation's change, written in the change's transaction. */
  readonly audit: AuditTrail;
  /**
   * A long-lived subscription's team member as the directory says they are now: their role
   * groups and permissions decide what they are shown (notes addressed to role groups).
   */
  refreshStaff(current: Pick<StaffActor, 'roles' | 'permissions'>): void;
}

/** Everything one operation works with: the request scope, its services and the application's collaborators. */
export interface Context extends RequestScope {
  readonly requestId: string;
  /** The `x-request-id` the client sent, if a valid one (the server's own is `requestId`). */
  readonly clientRequestId?: string;
  readonly services: Services;
  readonly deps: AppDeps;
}

/**
 * The context of one operation. What it holds is built on first use: a request that touches no
 * table forks no EntityManager, builds no loaders and no services.
 */
class OperationContext implements Context {
  readonly audit = new AuditTrail();
  private forked?: EntityManager;
  private batchLoaders?: Loaders;
  private built?: Services;
  private childLogger?: Logger;
  private primed: readonly RelatedRows[] = [];

  constructor(
    readonly deps: AppDeps,
    private caller: Actor | undefined,
    readonly requestId: string,
    readonly connectionSignal?: AbortSignal,
    readonly clientRequestId?: string,
  ) {}

  get actor(): Actor | undefined {
    return this.caller;
  }

  refreshStaff(current: Pick<StaffActor, 'roles' | 'permissions'>): void {
    if (this.caller?.kind !== 'staff') return;
    const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((value, index) => value === b[index]);
    if (same(this.caller.roles, current.roles) && same(this.caller.permissions, current.permissions)) return;
    this.caller = { ...this.caller, roles: [...current.roles], permissions: [...current.permissions] };
    // Loaders and services were built for the caller as they were.
    this.release();
  }

  get em(): EntityManager {
    if (!this.forked) {
      this.forked = this.deps.orm.em.fork({ clear: true, useContext: false });
      const organisationId = this.actor && this.actor.kind !== 'operator' ? this.actor.organisationId : undefined;
      if (organisationId) this.forked.setFilterParams(TENANT_FILTER, { organisationId });
    }
    return this.forked;
  }

  get db(): EntityManager {
    return plainReader(this.deps.orm.em);
  }

  get loaders(): Loaders {
    if (!this.batchLoaders) {
      this.batchLoaders = createLoaders(this.db, () => this.em, this.actor);
      for (const related of this.primed) primeLoaders(this.batchLoaders, related);
    }
    return this.batchLoaders;
  }

  get services(): Services {
    return (this.built ??= createServices(this, this.deps));
  }

  get logger(): Logger {
    return (this.childLogger ??= this.deps.logger.child({ requestId: this.requestId, actor: this.actor ? describeActor(this.actor) : undefined }));
  }

  /**
   * Forgets the EntityManager, loaders and services (built again when next used): a long-lived
   * subscription holds none of them between events.
   */
  reset(): void {
    this.release();
    this.primed = [];
  }

  release(): void {
    this.forked = undefined;
    this.batchLoaders = undefined;
    this.built = undefined;
  }

  prime(related: readonly RelatedRows[]): void {
    this.primed = related;
    if (this.batchLoaders) for (const rows of related) primeLoaders(this.batchLoaders, rows);
  }
}

export function createContext(deps: AppDeps, actor: Actor | undefined, requestId: string, connectionSignal?: AbortSignal, clientRequestId?: string): Context {
  return new OperationContext(deps, actor, requestId, connectionSignal, clientRequestId);
}

function describeActor(actor: Actor): string {
  switch (actor.kind) {
    case 'staff':
      return `staff:${actor.teamMemberId}`;
    case 'patient':
      return `patient:${actor.patientId}`;
    case 'service':
      return `service:${actor.clientId}`;
    case 'operator':
      return `operator:${actor.operatorId}`;
  }
}
