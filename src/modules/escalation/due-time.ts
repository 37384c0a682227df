import type { OpeningHours } from '../settings/messaging-settings.service';

/** Monday first, as getUTCDay() + 6 mod 7 counts. */
const WEEK: ReadonlyArray<OpeningHours['day']> = ['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY', 'SUNDAY'];

export const URGENCIES = ['ROUTINE', 'URGENT'] as const;
export type Urgency = (typeof URGENCIES)[number];

export const RESPONSE_TIME_BASES = ['OPENING_HOURS', 'WALL_CLOCK'] as const;
export type ResponseTimeBasis = (typeof RESPONSE_TIME_BASES)[number];

/** What an organisation promises patients: a reply within so many minutes, per urgency (null: no target). */
export interface ResponseTargets {
  routineResponseMinutes: number | null;
  urgentResponseMinutes: number | null;
  /** Minutes counted only while open (the opening hours, in `timeZone`), or around the clock. */
  responseTimeBasis: ResponseTimeBasis;
  openingHours: OpeningHours[];
  timeZone: string;
}

const MINUTE = 60_000;
/** Opening hours of at least one day a week are found within a week; a target they cannot meet within a year is counted around the clock. */
const DAYS_LOOKED_AHEAD = 400;

/**
 * When a patient's message sent at `from` must have a reply: `from` plus the urgency's target,
 * counting only opening hours where the organisation says so (a message written at night starts
 * counting at the next opening; none set means always open). Null when there is no target.
 */
export function responseDueAt(targets: ResponseTargets, urgency: Urgency, from: Date): Date | null {
  const minutes = targetMinutes(targets, urgency);
  return minutes == null ? null : afterResponseMinutes(targets, minutes, from);
}

/** The organisation's target for a message of this urgency, in minutes (null: none). */
export function targetMinutes(targets: Pick<ResponseTargets, 'routineResponseMinutes' | 'urgentResponseMinutes'>, urgency: Urgency): number | null {
  return urgency === 'URGENT' ? targets.urgentResponseMinutes : targets.routineResponseMinutes;
}

/** `from` plus `minutes` counted as the organisation counts response times (in opening hours, or around the clock). */
export function afterResponseMinutes(targets: Pick<ResponseTargets, 'responseTimeBasis' | 'openingHours' | 'timeZone'>, minutes: number, from: Date): Date {
  const aroundTheClock = new Date(from.getTime() + minutes * MINUTE);
  if (targets.responseTimeBasis === 'WALL_CLOCK' || targets.openingHours.length === 0) return aroundTheClock;
  let remaining = minutes * MINUTE;
  const start = localDate(from, targets.timeZone);
  for (let day = 0; day < DAYS_LOOKED_AHEAD; day++) {
    const date = new Date(Date.UTC(start.year, start.month - 1, start.day + day));
    for (const [opens, closes] of openIntervals(targets, date)) {
      const begin = Math.max(opens, from.getTime());
      if (closes <= begin) continue;
      if (closes - begin >= remaining) return new Date(begin + remaining);
      remaining -= closes - begin;
    }
  }
  return aroundTheClock;
}

/** The day's opening hours as instants (merged where they overlap), in order. */
function openIntervals(targets: Pick<ResponseTargets, 'openingHours' | 'timeZone'>, date: Date): Array<[number, number]> {
  const weekday = WEEK[(date.getUTCDay() + 6) % 7];
  const intervals = targets.openingHours
    .filter((hours) => hours.day === weekday)
    .map((hours): [number, number] => [instantOf(date, hours.opens, targets.timeZone), instantOf(date, hours.closes, targets.timeZone)])
    .sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const interval of intervals) {
    const last = merged[merged.length - 1];
    if (last && interval[0] <= last[1]) last[1] = Math.max(last[1], interval[1]);
    else merged.push([...interval]);
  }
  return merged;
}

/** Formatters are costly to build (a message's send computes its due time): one per time zone. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function wallClockIn(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The calendar date at `at` in `timeZone`. */
function localDate(at: Date, timeZone: string): { year: number; month: number; day: number } {
  const parts = wallClockIn(timeZone).formatToParts(at);
  const part = (type: string) => Number(parts.find((candidate) => candidate.type === type)?.value);
  return { year: part('year'), month: part('month'), day: part('day') };
}

/** How far `timeZone`'s wall clock is ahead of UTC at `at`, in milliseconds. */
function offsetAt(at: number, timeZone: string): number {
  const parts = wallClockIn(timeZone).formatToParts(new Date(at));
  const part = (type: string) => Number(parts.find((candidate) => candidate.type === type)?.value);
  const wall = Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second'));
  return wall - Math.floor(at / 1000) * 1000;
}

/**
 * The instant the wall clock in `timeZone` shows `time` ("HH:MM", "24:00" for the day's end) on
 * `date` (a UTC midnight naming the calendar day). A time skipped by a clock change falls after it.
 */
function instantOf(date: Date, time: string, timeZone: string): number {
  const [hours, minutes] = time.split(':').map(Number);
  const wall = date.getTime() + (hours * 60 + minutes) * MINUTE;
  const offset = offsetAt(wall - offsetAt(wall, timeZone), timeZone);
  const instant = wall - offset;
  const offsetThere = offsetAt(instant, timeZone);
  // The wall clock never showed `time` that day (it was skipped): the instant it would have, by the offset after the change.
  return offsetThere === offset ? instant : Math.max(instant, wall - offsetThere);
}
