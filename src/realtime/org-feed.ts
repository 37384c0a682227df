import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { channelPolicy } from '../policy/channels';
import { uuidArray } from '../db/sql';
import { compareKeys, endOfPosition, loadEvents, peopleOf, personKey, type EventKey, type LoadedEvent } from './event-batch';
import { estimateBytes, type FeedMemory, type TrimmableFeed } from './feed-memory';
import { FeedCompaction } from './feed-compaction';

export interface OrgFeedOptions {
  organisationId: string;
  /** A fresh EntityManager scoped to the organisation, for each read. */
  fork: () => EntityManager;
  logger: Logger;
  /** Most events kept in memory for readers that are a little behind. */
  bufferSize: number;
  fetchSize: number;
  /** The process's budget for every feed's buffer, in bytes: it may take this feed's oldest events. */
  memory: FeedMemory;
}

/**
 * One organisation's events as this process sees them: a single reader follows the log and
 * keeps the most recent events, with their related rows, for every live subscriber of the
 * organisation in this process. Subscribers that are caught up take events from here instead of
 * querying the database each; those further behind read the database themselves.
 */
export class OrgFeed implements TrimmableFeed {
  /** Everything up to this key has been read from the log. */
  head: EventKey;
  /** Lowest key the buffer can answer from: events after it are all present. */
  private floor: EventKey;
  private readonly recent: LoadedEvent[] = [];
  /** The estimated size of each event in `recent`, in the same order. */
  private readonly sizes: number[] = [];
  bufferedBytes = 0;
  private readonly byChannel = new Map<string, LoadedEvent[]>();
  private readonly waiters = new Set<() => void>();
  /** People with an open inbox stream here, and how many streams each. */
  private readonly inboxPeople = new Map<string, number>();
  /** A copy of `inboxPeople`'s keys shared by every batch read until it changes. */
  private inboxSnapshot?: ReadonlySet<string>;
  /** Whether the snapshot's size is in `bufferedBytes` already (charged with the first batch that refers to it). */
  private inboxSnapshotCharged = false;
  private readonly compaction = new FeedCompaction();
  private latestNotified = 0;
  private fetching?: Promise<void>;
  private fetchAgain = false;
  private retryTimer?: NodeJS.Timeout;
  /** Bumped when the bus may have missed notices: readers re-check access before going on. */
  generation = 0;
  closed = false;

  constructor(
    private readonly options: OrgFeedOptions,
    startPosition: number,
  ) {
    this.head = endOfPosition(startPosition);
    this.floor = this.head;
    this.latestNotified = startPosition;
  }

  get organisationId(): string {
    return this.options.organisationId;
  }

  /** A transaction committed events up to `position`. */
  notify(position: number): void {
    if (position <= this.latestNotified && position <= this.head.position) return;
    this.latestNotified = Math.max(this.latestNotified, position);
    this.pump();
  }

  /** Catches up with a notice that never arrived (a failed publish): asks the organisation's counter. */
  async poll(): Promise<void> {
    const rows = await this.options
      .fork()
      .execute<Array<{ last_position: string }>>('select last_position from event_position where organisation_id = ?', [this.organisationId]);
    if (rows.length) this.notify(Number(rows[0].last_position));
  }

  /** Every reader checks its caller again (who they are may have changed) before it delivers more. */
  revalidate(): void {
    this.generation += 1;
    this.wakeAll();
  }

  /** Notices may have been missed: read whatever the log holds beyond the head. */
  resync(): void {
    this.generation += 1;
    this.pump(true);
    this.wakeAll();
  }

  /**
   * What a reader that has seen everything up to `covered` has not seen yet: the events after
   * it, and the head it reaches by taking them. Undefined when the buffer no longer reaches back
   * to `covered` (the reader reads the database instead).
   */
  eventsAfter(covered: EventKey): { events: LoadedEvent[]; head: EventKey } | undefined {
    if (compareKeys(covered, this.floor) < 0) return undefined;
    return { events: this.recent.slice(firstAfter(this.recent, (event) => compareKeys(event.key, covered) <= 0)), head: this.head };
  }

  /** Like `eventsAfter`, for one channel, whose reader is at `seq`. */
  channelEventsAfter(channelId: string, seq: number, covered: EventKey): { events: LoadedEvent[]; head: EventKey } | undefined {
    if (compareKeys(covered, this.floor) < 0) return undefined;
    const events = this.byChannel.get(channelId) ?? [];
    return { events: events.slice(firstAfter(events, (event) => event.key.seq <= seq)), head: this.head };
  }

  /** Resolves at the next batch appended (or resync), or when `signal` aborts. */
  waitForMore(signal: AbortSignal): Promise<void> {
    if (signal.aborted || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  addInboxPerson(key: string): void {
    const count = this.inboxPeople.get(key) ?? 0;
    if (count === 0) this.forgetInboxSnapshot();
    this.inboxPeople.set(key, count + 1);
  }

  removeInboxPerson(key: string): void {
    const count = (this.inboxPeople.get(key) ?? 1) - 1;
    if (count <= 0) {
      this.inboxPeople.delete(key);
      this.forgetInboxSnapshot();
    } else this.inboxPeople.set(key, count);
  }

  private forgetInboxSnapshot(): void {
    this.inboxSnapshot = undefined;
    this.inboxSnapshotCharged = false;
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.options.memory.forget(this);
    this.recent.length = 0;
    this.sizes.length = 0;
    this.byChannel.clear();
    this.bufferedBytes = 0;
    this.wakeAll();
  }

  /** Drops the oldest events until `bytes` are freed (or none is left): readers behind them read the database. */
  dropOldest(bytes: number): number {
    let freed = 0;
    let count = 0;
    while (count < this.recent.length && freed < bytes) freed += this.sizes[count++];
    this.drop(count);
    return count;
  }

  private drop(count: number): void {
    if (count <= 0) return;
    for (const dropped of this.recent.splice(0, count)) {
      const channel = this.byChannel.get(dropped.key.channelId)!;
      channel.shift();
      if (channel.length === 0) this.byChannel.delete(dropped.key.channelId);
      this.floor = dropped.key;
    }
    for (const size of this.sizes.splice(0, count)) this.bufferedBytes -= size;
    this.compaction.bound(this.recent.length);
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private pump(force = false): void {
    if (this.closed) return;
    if (this.fetching) {
      this.fetchAgain = true;
      return;
    }
    if (!force && this.latestNotified <= this.head.position) return;
    this.fetching = this.fetchUntilCaughtUp()
      .catch((error) => {
        this.options.logger.warn({ err: error, organisationId: this.organisationId }, 'live feed read failed; retrying');
        this.retryTimer = setTimeout(() => this.pump(true), 1_000);
        this.retryTimer.unref();
      })
      .finally(() => {
        this.fetching = undefined;
        if (this.fetchAgain) {
          this.fetchAgain = false;
          this.pump(true);
        }
      });
  }

  private async fetchUntilCaughtUp(): Promise<void> {
    let batch: LoadedEvent[];
    do {
      this.fetchAgain = false;
      batch = await this.fetch();
      if (this.closed) return;
      this.append(batch);
    } while (batch.length === this.options.fetchSize);
  }

  private async fetch(): Promise<LoadedEvent[]> {
    const { organisationId, fetchSize } = this.options;
    const em = this.options.fork();
    const { position, channelId, seq } = this.head;
    const events = await loadEvents(
      em,
      organisationId,
      'organisation_id = ? and (position, channel_id, seq) > (?, ?::uuid, ?) order by position, channel_id, seq limit ?',
      [organisationId, position, channelId, seq, fetchSize],
    );
    // People who open an inbox after this point are not covered by this batch; their readers take it from the database.
    const people = (this.inboxSnapshot ??= new Set(this.inboxPeople.keys()));
    if (events.length > 0 && people.size > 0) await this.markAudience(em, events, people);
    return events;
  }

  /** Which of the people with an inbox open here were members at each event. */
  private async markAudience(em: EntityManager, events: LoadedEvent[], audienceFor: ReadonlySet<string>): Promise<void> {
    const people = [...audienceFor];
    const teamMemberIds = people.filter((key) => key.startsWith('t:')).map((key) => key.slice(2));
    const patientIds = people.filter((key) => key.startsWith('p:')).map((key) => key.slice(2));
    const channelIds = [...new Set(events.map((event) => event.key.channelId))];
    // Patients are only ever in the audience of the kinds of channel they may see.
    const rows = await em.execute<Array<{ channel_id: string; team_member_id: string | null; patient_id: string | null; joined_seq: string; left_seq: string | null }>>(
      `select m.channel_id, m.team_member_id, m.patient_id, m.joined_seq, m.left_seq from channel_member m
         join channel c on c.organisation_id = m.organisation_id and c.id = m.channel_id
        where m.organisation_id = ? and m.channel_id = any(?::uuid[])
          and (m.team_member_id = any(?::uuid[])
               or (m.patient_id = any(?::uuid[]) and ${channelPolicy.sql.kindsVisibleTo({ kind: 'patient' }, 'c')}))`,
      [this.organisationId, uuidArray(channelIds), uuidArray(teamMemberIds), uuidArray(patientIds)],
    );
    const byChannel = new Map<string, typeof rows>();
    for (const row of rows) {
      const list = byChannel.get(row.channel_id);
      if (list) list.push(row);
      else byChannel.set(row.channel_id, [row]);
    }
    for (const event of events) {
      const audience = new Set<string>();
      for (const row of byChannel.get(event.key.channelId) ?? []) {
        const joined = Number(row.joined_seq);
        const left = row.left_seq === null ? Infinity : Number(row.left_seq);
        if (joined <= event.key.seq && event.key.seq <= left) audience.add(personKey({ teamMemberId: row.team_member_id, patientId: row.patient_id }));
      }
      event.audience = audience;
      event.audienceFor = audienceFor;
    }
  }

  private append(batch: LoadedEvent[]): void {
    if (batch.length === 0) return;
    // What the batch holds (its shared rows counted once), shared out evenly among its events.
    for (const event of batch) peopleOf(event);
    // Rows and sets kept from earlier batches, and an inbox snapshot already charged, were counted when they came.
    const seen = this.compaction.compact(batch);
    if (this.inboxSnapshot && this.inboxSnapshotCharged) seen.add(this.inboxSnapshot);
    this.inboxSnapshotCharged = Boolean(this.inboxSnapshot);
    let batchBytes = 0;
    for (const event of batch) batchBytes += estimateBytes(event, seen);
    const eventBytes = Math.floor(batchBytes / batch.length);
    for (const [index, event] of batch.entries()) {
      this.recent.push(event);
      this.sizes.push(index === 0 ? batchBytes - eventBytes * (batch.length - 1) : eventBytes);
      const channel = this.byChannel.get(event.key.channelId);
      if (channel) channel.push(event);
      else this.byChannel.set(event.key.channelId, [event]);
    }
    this.bufferedBytes += batchBytes;
    this.head = batch[batch.length - 1].key;
    this.latestNotified = Math.max(this.latestNotified, this.head.position);
    const before = this.bufferedBytes;
    this.drop(this.recent.length - this.options.bufferSize);
    this.options.memory.released(before - this.bufferedBytes);
    this.options.memory.added(this, batchBytes);
    this.wakeAll();
  }
}

/** Index of the first event for which `seen` is false, in a list where `seen` holds for a prefix (binary search). */
function firstAfter(events: LoadedEvent[], seen: (event: LoadedEvent) => boolean): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (seen(events[middle])) low = middle + 1;
    else high = middle;
  }
  return low;
}
