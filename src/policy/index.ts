/**
 * The policy layer: every rule about who may see or do what, in one place.
 *
 * - `channels.ts`  which channels (by kind and membership) an actor may see, join and take part in,
 *                  as predicates on rows and as SQL fragments for lists, counts, search and feeds;
 * - `messages.ts`  internal notes: who sees them, on every route;
 * - `events.ts`    which live events and typing notices reach a subscriber;
 * - `people.ts`    which fields of a person another actor may see;
 * - `permissions.ts` `can(actor, action)`: abilities that need a permission;
 * - `visibility-class.ts` the class of a subscriber for an event (one execution per class);
 * - `responders.ts` who answers patient-started conversations (the settings' responders or role group);
 * - `chart.ts`     who reads and manages a patient's chart documents, and where they may be attached.
 *
 * Nothing outside this folder spells a channel kind or an internal-note filter in SQL
 * (test/policy-boundaries.test.ts fails if something does).
 */
export * from './channels';
export * from './messages';
export * from './events';
export * from './people';
export * from './permissions';
export * from './visibility-class';
export * from './responders';
export * from './chart';
