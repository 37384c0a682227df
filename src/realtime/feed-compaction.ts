import type { LoadedEvent, RelatedRows } from './event-batch';

/**
 * Values that repeat from one event of an organisation to the next (the organisation, the
 * channel, the people, kinds and states): a feed keeps one copy of each instead of one per row.
 */
const REPEATING = new Set([
  'organisationId',
  'channelId',
  'patientId',
  'teamMemberId',
  'guardianOfPatientId',
  'authorTeamMemberId',
  'authorPatientId',
  'onBehalfOfPatientId',
  'parentMessageId',
  'actorTeamMemberId',
  'actorPatientId',
  'subjectTeamMemberId',
  'subjectPatientId',
  'createdByTeamMemberId',
  'kind',
  'status',
  'type',
]);

/**
 * The tables may hold entries no buffered event refers to any more (their events were evicted):
 * each is started afresh once it holds more than this many entries per buffered event (plus a
 * floor), so they stay a small multiple of what the buffer holds. Starting afresh changes no
 * answer: events keep the rows and values they have; new ones are kept again.
 */
const ENTRIES_PER_EVENT = 4;
const ENTRIES_FLOOR = 256;
/** Audience sets larger than this are not shared by content (sorting them would cost more than it saves). */
const SHARED_SET_MAX = 64;

type Row = Record<string, unknown> & { id: string };

/**
 * What keeps one organisation's buffered events small: repeated values stored once, and one row
 * per channel and person for all the events that name it, holding its latest read (as a reader
 * that reads the database gets the current row, not the row as it was at the event).
 */
export class FeedCompaction {
  private readonly values = new Map<string, string>();
  /** Channel, team member and patient rows by table and id. */
  private readonly shared = new Map<string, Row>();
  private readonly keySets = new Map<string, ReadonlySet<string>>();

  /** Entries in the largest table. */
  get largestTable(): number {
    return Math.max(this.values.size, this.shared.size, this.keySets.size);
  }

  /** Starts afresh any table grown past its share of `bufferedEvents` (see ENTRIES_PER_EVENT). */
  bound(bufferedEvents: number): void {
    const most = ENTRIES_FLOOR + ENTRIES_PER_EVENT * bufferedEvents;
    for (const table of [this.values, this.shared, this.keySets]) if (table.size > most) table.clear();
  }

  /** Compacts a batch in place, before the feed buffers it; returns the rows and sets it took from earlier batches (counted there). */
  compact(batch: readonly LoadedEvent[]): Set<object> {
    const reused = new Set<object>();
    const related = new Set<RelatedRows>();
    for (const event of batch) {
      this.internFields(event.record as unknown as Record<string, unknown>);
      event.key.channelId = event.record.channelId;
      related.add(event.related);
      if (event.people) event.people = { keys: this.internKeys(event.people.keys, reused) };
      if (event.audience) event.audience = this.internKeys(event.audience, reused);
    }
    for (const rows of related) {
      for (const list of [rows.messages, rows.members] as unknown as Row[][]) for (const row of list) this.internFields(row);
      rows.channels = this.sharedRows('c', rows.channels as unknown as Row[], reused) as unknown as RelatedRows['channels'];
      rows.teamMembers = this.sharedRows('t', rows.teamMembers as unknown as Row[], reused) as unknown as RelatedRows['teamMembers'];
      rows.patients = this.sharedRows('p', rows.patients as unknown as Row[], reused) as unknown as RelatedRows['patients'];
      if (rows.members.length === 0) rows.members = NONE as RelatedRows['members'];
      if (rows.messages.length === 0) rows.messages = NONE as RelatedRows['messages'];
    }
    return reused;
  }

  /** One set per distinct content: the same people are named, and in the audience, event after event. */
  private internKeys(keys: ReadonlySet<string>, reused: Set<object>): ReadonlySet<string> {
    if (keys.size > SHARED_SET_MAX) return keys;
    const content = [...keys].sort().join(' ');
    let set = this.keySets.get(content);
    if (set) reused.add(set);
    else this.keySets.set(content, (set = new Set([...keys].map((key) => this.intern(key)))));
    return set;
  }

  private intern(value: string): string {
    const known = this.values.get(value);
    if (known !== undefined) return known;
    this.values.set(value, value);
    return value;
  }

  private internFields(row: Record<string, unknown>): void {
    for (const key of REPEATING) {
      const value = row[key];
      if (typeof value === 'string') row[key] = this.intern(value);
    }
  }

  /** The rows, each replaced by the one kept from an earlier batch, brought up to date with it. */
  private sharedRows(table: string, rows: Row[], reused: Set<object>): Row[] {
    return rows.map((row) => {
      this.internFields(row);
      const key = `${table}:${row.id}`;
      const kept = this.shared.get(key);
      if (!kept) {
        row.id = this.intern(row.id);
        this.shared.set(key, row);
        return row;
      }
      reused.add(kept);
      if (!sameRow(kept, row)) Object.assign(kept, row);
      return kept;
    });
  }
}

const NONE: never[] = Object.freeze([]) as unknown as never[];

/** Whether two rows of one table hold the same values (dates by time, arrays element by element). */
function sameRow(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => sameValue(a[key], b[key]));
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => sameValue(item, b[index]));
  return false;
}
