import { registerEnumType } from 'type-graphql';
import { RESPONSE_TIME_BASES, URGENCIES, type ResponseTimeBasis, type Urgency } from './due-time';

export const UrgencyEnum = Object.fromEntries(URGENCIES.map((value) => [value, value])) as { [Value in Urgency]: Value };
registerEnumType(UrgencyEnum, {
  name: 'MessageUrgency',
  description: 'How soon a message needs an answer.',
  valuesConfig: {
    ROUTINE: { description: 'The routine response target applies.' },
    URGENT: { description: 'The urgent response target applies. Patients may mark it only where the settings allow (`patientsCanMarkUrgent`).' },
  },
});

export const ResponseTimeBasisEnum = Object.fromEntries(RESPONSE_TIME_BASES.map((value) => [value, value])) as { [Value in ResponseTimeBasis]: Value };
registerEnumType(ResponseTimeBasisEnum, {
  name: 'ResponseTimeBasis',
  description: 'How response targets are counted.',
  valuesConfig: {
    OPENING_HOURS: { description: 'Only minutes within the opening hours count (a message written at night starts counting at the next opening); no opening hours set: around the clock.' },
    WALL_CLOCK: { description: 'Every minute counts, around the clock.' },
  },
});
