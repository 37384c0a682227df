import { afterResponseMinutes, responseDueAt, type ResponseTargets } from '../src/modules/escalation/due-time';

const weekdays = (opens: string, closes: string) =>
  (['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY'] as const).map((day) => ({ day, opens, closes }));

const targets = (extra: Partial<ResponseTargets> = {}): ResponseTargets => ({
  routineResponseMinutes: 240,
  urgentResponseMinutes: 30,
  responseTimeBasis: 'OPENING_HOURS',
  openingHours: weekdays('09:00', '17:00'),
  timeZone: 'Europe/London',
  ...extra,
});

const at = (iso: string) => new Date(iso);

describe('when a reply is due', () => {
  it('around the clock: the target added to the time sent', () => {
    expect(responseDueAt(targets({ responseTimeBasis: 'WALL_CLOCK' }), 'ROUTINE', at('2026-12-04T16:00:00Z'))).toEqual(at('2026-12-04T20:00:00Z'));
    expect(responseDueAt(targets({ responseTimeBasis: 'WALL_CLOCK' }), 'URGENT', at('2026-12-04T16:00:00Z'))).toEqual(at('2026-12-04T16:30:00Z'));
  });

  it('in opening hours: within the day, carried over the night and the weekend, and from the next opening for a message written at night', () => {
    // Thursday 10:00 (London is UTC in December): four open hours later is 14:00.
    expect(responseDueAt(targets(), 'ROUTINE', at('2026-12-03T10:00:00Z'))).toEqual(at('2026-12-03T14:00:00Z'));
    // Friday 16:00: one hour on Friday, three on Monday.
    expect(responseDueAt(targets(), 'ROUTINE', at('2026-12-04T16:00:00Z'))).toEqual(at('2026-12-07T12:00:00Z'));
    // Saturday night: from Monday's opening.
    expect(responseDueAt(targets(), 'URGENT', at('2026-12-05T23:00:00Z'))).toEqual(at('2026-12-07T09:30:00Z'));
    // Exactly at closing time: nothing left of the day.
    expect(responseDueAt(targets(), 'URGENT', at('2026-12-03T17:00:00Z'))).toEqual(at('2026-12-04T09:30:00Z'));
  });

  it("in the organisation's time zone, across a clock change", () => {
    // New York, Friday 16:00 local (21:00Z) before the November change: one hour Friday, three on Monday (now UTC-5).
    const newYork = targets({ timeZone: 'America/New_York' });
    expect(responseDueAt(newYork, 'ROUTINE', at('2026-10-30T20:00:00Z'))).toEqual(at('2026-11-02T17:00:00Z'));
    // London, the Friday before the March change (UTC), due the Monday after (BST, UTC+1).
    expect(responseDueAt(targets(), 'ROUTINE', at('2026-03-27T16:00:00Z'))).toEqual(at('2026-03-30T11:00:00Z'));
  });

  it('an opening time the clock skips opens when the clock would have shown it (after the change)', () => {
    // New York springs forward at 02:00 on Sunday 8 March 2026: 02:30 is never shown; it opens at 03:30 EDT (07:30Z).
    const night = targets({ timeZone: 'America/New_York', urgentResponseMinutes: 30, openingHours: [{ day: 'SUNDAY', opens: '02:30', closes: '05:00' }] });
    expect(responseDueAt(night, 'URGENT', at('2026-03-08T05:00:00Z'))).toEqual(at('2026-03-08T08:00:00Z'));
  });

  it('a target the opening hours cannot meet within a year is counted around the clock', () => {
    const rarely = targets({ routineResponseMinutes: 43_200, openingHours: [{ day: 'MONDAY', opens: '09:00', closes: '10:00' }] });
    expect(responseDueAt(rarely, 'ROUTINE', at('2026-12-03T10:00:00Z'))).toEqual(at('2027-01-02T10:00:00Z'));
  });

  it('later steps (a second escalation) count their minutes the same way', () => {
    expect(afterResponseMinutes(targets(), 120, at('2026-12-04T16:00:00Z'))).toEqual(at('2026-12-07T10:00:00Z'));
    expect(afterResponseMinutes(targets({ responseTimeBasis: 'WALL_CLOCK' }), 120, at('2026-12-04T16:00:00Z'))).toEqual(at('2026-12-04T18:00:00Z'));
  });

  it('overlapping and split opening hours count each open minute once', () => {
    const split = targets({
      timeZone: 'UTC',
      openingHours: [
        { day: 'MONDAY', opens: '09:00', closes: '12:00' },
        { day: 'MONDAY', opens: '11:00', closes: '13:00' },
        { day: 'MONDAY', opens: '14:00', closes: '24:00' },
      ],
    });
    // Monday 09:00-13:00 is four hours, then from 14:00.
    expect(responseDueAt(split, 'ROUTINE', at('2026-12-07T09:00:00Z'))).toEqual(at('2026-12-07T13:00:00Z'));
    expect(responseDueAt({ ...split, routineResponseMinutes: 300 }, 'ROUTINE', at('2026-12-07T09:00:00Z'))).toEqual(at('2026-12-07T15:00:00Z'));
    // Past Monday's midnight close: the next Monday.
    expect(responseDueAt({ ...split, routineResponseMinutes: 30 }, 'ROUTINE', at('2026-12-07T23:45:00Z'))).toEqual(at('2026-12-14T09:15:00Z'));
  });

  it('no opening hours means always open; no target means no due time', () => {
    expect(responseDueAt(targets({ openingHours: [] }), 'URGENT', at('2026-12-05T23:00:00Z'))).toEqual(at('2026-12-05T23:30:00Z'));
    expect(responseDueAt(targets({ routineResponseMinutes: null }), 'ROUTINE', at('2026-12-03T10:00:00Z'))).toBeNull();
  });
});
