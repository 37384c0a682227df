import type { LoadedEvent } from './event-batch';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { TENANT_FILTER } from '../db/tenant';
import type { BusNotice, EventBus, ResyncNotice, TypingNotice } from './bus';
import { OrgFeed } from './org-feed';
import { FeedMemory, type FeedMemoryStats } from './feed-memory';
import { personKey } from './event-batch';
import { uuidArray } from '../db/sql';

export interface LiveHubOptions {
  orm: MikroORM;
  bus: EventBus;
  logger: Logger;
  feedBufferSize: number;
  feedFetchSize: number;
  /** The budget shared by every organisation's feed in this process. */
  feedMemoryBytes: number;
  /** How often the feeds' memory is logged (debug level); default 15 s. */
  statsLogMs?: number;
  /** How often feeds ask the database for events whose notice was lost. */
  pollMs: number;
  /** How often open connections of archived people are looked for (in case a revoke notice was lost). */
  sweepMs: number;
  /** Told the seconds from an event's commit to its sending to a live subscriber (metrics). */
  onLiveDelivery?: (lagSeconds: number) => void;
}

type Closer = (code: number, reason: string) => void;
type Person = { organisationId: string; teamMemberId?: string; patientId?: string };
type TypingListener = (notice: TypingNotice) => void;

/** graphql-ws close code for a person whose access was revoked (archived). */
export const CLOSE_REVOKED = 4403;

/**
 * This process's side of live delivery: one shared feed per organisation with subscribers, the
 * open connections of each person (to close them when access is revoked), and typing listeners.
 * It is the only listener on the bus.
 */
export class LiveHub {
  private readonly feeds = new Map<string, { feed: Promise<OrgFeed>; refs: number }>();
  private readonly connections = new Map<string, { person: Person; closers: Set<Closer> }>();
  private readonly typing = new Map<string, Set<TypingListener>>();
  private readonly stopListening: () => void;
  private readonly timers: NodeJS.Timeout[];
  private readonly memory: FeedMemory;
  private loggedEvictions = 0;

  constructor(private readonly options: LiveHubOptions) {
    this.memory = new FeedMemory(options.feedMemoryBytes);
    this.stopListening = options.bus.subscribe((notice) => this.onNotice(notice));
    this.timers = [
      setInterval(() => this.pollFeeds(), options.pollMs),
      setInterval(() => void this.sweepArchived(), options.sweepMs),
      setInterval(() => this.logMemory(), options.statsLogMs ?? 15_000),
    ];
    for (const timer of this.timers) timer.unref();
  }

  /** An event read from the shared feed is being sent to a subscriber. */
  deliveredLive(event: LoadedEvent): void {
    this.options.onLiveDelivery?.(Math.max(0, Date.now() - event.record.createdAt.getTime()) / 1000);
  }

  /** The organisation's feed, started on first use; release it with `releaseFeed`. */
  acquireFeed(organisationId: string): Promise<OrgFeed> {
    const entry = this.feeds.get(organisationId);
    if (entry) {
      entry.refs += 1;
      return entry.feed;
    }
    const feed = this.startFeed(organisationId);
    this.feeds.set(organisationId, { feed, refs: 1 });
    feed.catch(() => this.feeds.delete(organisationId));
    return feed;
  }

  releaseFeed(organisationId: string): void {
    const entry = this.feeds.get(organisationId);
    if (!entry) return;
    entry.refs -= 1;
    if (entry.refs > 0) return;
    this.feeds.delete(organisationId);
    void entry.feed.then((feed) => feed.close(), () => undefined);
  }

  /** Registers an open connection of a person; returns the function that unregisters it. */
  registerConnection(person: Person, close: Closer): () => void {
    const key = personKey(person);
    const entry = this.connections.get(key) ?? { person, closers: new Set<Closer>() };
    entry.closers.add(close);
    this.connections.set(key, entry);
    return () => {
      entry.closers.delete(close);
      if (entry.closers.size === 0 && this.connections.get(key) === entry) this.connections.delete(key);
    };
  }

  /** How many connections of a person this process holds. */
  connectionCount(person: { teamMemberId?: string | null; patientId?: string | null }): number {
    return this.connections.get(personKey(person))?.closers.size ?? 0;
  }

  /** Closes every connection of a person (archived: access revoked). */
  revoke(person: { teamMemberId?: string | null; patientId?: string | null }): void {
    for (const close of [...(this.connections.get(personKey(person))?.closers ?? [])]) close(CLOSE_REVOKED, 'Access revoked');
  }

  /** Finds archived people among those connected here and closes their connections. */
  async sweepArchived(): Promise<void> {
    const people = [...this.connections.values()].map((entry) => entry.person);
    if (people.length === 0) return;
    try {
      const em = this.options.orm.em.fork();
      const organisations = uuidArray([...new Set(people.map((p) => p.organisationId))]);
      // Person ids are uuids, unique across organisations; the organisation list lets the primary key serve.
      const archivedOf = async (table: 'team_member' | 'patient', ids: string[]) =>
        ids.length
          ? await em.execute<Array<{ id: string }>>(`select id from ${table} where organisation_id = any(?::uuid[]) and id = any(?::uuid[]) and archived_at is not null`, [
              organisations,
              uuidArray(ids),
            ])
          : [];
      const archived = [
        ...(await archivedOf('team_member', people.flatMap((p) => (p.teamMemberId ? [p.teamMemberId] : [])))).map((row) => ({ teamMemberId: row.id })),
        ...(await archivedOf('patient', people.flatMap((p) => (p.patientId ? [p.patientId] : [])))).map((row) => ({ patientId: row.id })),
      ];
      for (const person of archived) this.revoke(person);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'sweep for archived people failed');
    }
  }

  onTyping(channelId: string, listener: TypingListener): () => void {
    const set = this.typing.get(channelId) ?? new Set();
    set.add(listener);
    this.typing.set(channelId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.typing.delete(channelId);
    };
  }

  /** Open channel and inbox streams in this process; each has fixed its start position. */
  get streamCount(): number {
    let count = 0;
    for (const { refs } of this.feeds.values()) count += refs;
    return count;
  }

  /** What the organisations' feeds in this process hold, against the budget. */
  feedMemory(): FeedMemoryStats {
    return this.memory.stats();
  }

  private logMemory(): void {
    const stats = this.memory.stats();
    if (stats.feeds === 0 && stats.evictions === this.loggedEvictions) return;
    this.options.logger.debug({ ...stats, evictionsSinceLast: stats.evictions - this.loggedEvictions }, 'live feed memory');
    this.loggedEvictions = stats.evictions;
  }

  /** Open typing streams of a channel in this process. */
  typingStreamCount(channelId: string): number {
    return this.typing.get(channelId)?.size ?? 0;
  }

  close(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.stopListening();
    for (const { feed } of this.feeds.values()) void feed.then((f) => f.close(), () => undefined);
    this.feeds.clear();
  }

  private pollFeeds(): void {
    for (const { feed } of this.feeds.values()) {
      void feed.then((f) => f.poll()).catch((error) => this.options.logger.warn({ err: error }, 'live feed poll failed'));
    }
  }

  private async startFeed(organisationId: string): Promise<OrgFeed> {
    const fork = () => {
      const em = this.options.orm.em.fork({ clear: true, useContext: false });
      em.setFilterParams(TENANT_FILTER, { organisationId });
      return em;
    };
    const rows = await fork().execute<Array<{ last_position: string }>>('select last_position from event_position where organisation_id = ?', [organisationId]);
    return new OrgFeed(
      { organisationId, fork, logger: this.options.logger, bufferSize: this.options.feedBufferSize, fetchSize: this.options.feedFetchSize, memory: this.memory },
      rows.length ? Number(rows[0].last_position) : 0,
    );
  }

  private onNotice(notice: BusNotice | ResyncNotice): void {
    switch (notice.kind) {
      case 'events':
        void this.feeds.get(notice.organisationId)?.feed.then((feed) => feed.notify(notice.position), () => undefined);
        return;
      case 'resync':
        for (const { feed } of this.feeds.values()) void feed.then((f) => f.resync(), () => undefined);
        // Revoke notices may have been missed too.
        void this.sweepArchived();
        return;
      case 'revoke':
        this.revoke(notice);
        return;
      case 'identity':
        // A person's role groups or permissions changed: the organisation's streams check their callers again before their next event.
        void this.feeds.get(notice.organisationId)?.feed.then((feed) => feed.revalidate(), () => undefined);
        return;
      case 'typing':
        for (const listener of [...(this.typing.get(notice.channelId) ?? [])]) listener(notice);
        return;
    }
  }
}
