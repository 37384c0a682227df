import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { TENANT_FILTER } from '../db/tenant';
import type { BusNotice, EventBus, ResyncNotice, TypingNotice } from './bus';
import { OrgFeed } from './org-feed';
import { personKey } from './event-batch';

export interface LiveHubOptions {
  orm: MikroORM;
  bus: EventBus;
  logger: Logger;
  feedBufferSize: number;
  feedFetchSize: number;
}

type Closer = (code: number, reason: string) => void;
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
  private readonly connections = new Map<string, Set<Closer>>();
  private readonly typing = new Map<string, Set<TypingListener>>();
  private readonly stopListening: () => void;

  constructor(private readonly options: LiveHubOptions) {
    this.stopListening = options.bus.subscribe((notice) => this.onNotice(notice));
  }

  get bus(): EventBus {
    return this.options.bus;
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
  registerConnection(person: { teamMemberId?: string; patientId?: string }, close: Closer): () => void {
    const key = personKey(person);
    const set = this.connections.get(key) ?? new Set();
    set.add(close);
    this.connections.set(key, set);
    return () => {
      set.delete(close);
      if (set.size === 0) this.connections.delete(key);
    };
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

  /** Open typing streams of a channel in this process. */
  typingStreamCount(channelId: string): number {
    return this.typing.get(channelId)?.size ?? 0;
  }

  close(): void {
    this.stopListening();
    for (const { feed } of this.feeds.values()) void feed.then((f) => f.close(), () => undefined);
    this.feeds.clear();
  }

  private async startFeed(organisationId: string): Promise<OrgFeed> {
    const fork = () => {
      const em = this.options.orm.em.fork({ clear: true, useContext: false });
      em.setFilterParams(TENANT_FILTER, { organisationId });
      return em;
    };
    const rows = await fork().execute<Array<{ last_position: string }>>('select last_position from event_position where organisation_id = ?', [organisationId]);
    return new OrgFeed(
      { organisationId, fork, logger: this.options.logger, bufferSize: this.options.feedBufferSize, fetchSize: this.options.feedFetchSize },
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
        return;
      case 'revoke':
        for (const close of [...(this.connections.get(personKey(notice)) ?? [])]) close(CLOSE_REVOKED, 'Access revoked');
        return;
      case 'typing':
        for (const listener of [...(this.typing.get(notice.channelId) ?? [])]) listener(notice);
        return;
    }
  }
}
