import {
  Kind,
  createSourceEventStream,
  execute,
  getNamedType,
  getOperationAST,
  isObjectType,
  isUnionType,
  type ExecutionArgs,
  type ExecutionResult,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { createHash } from 'node:crypto';
import type { Context } from '../graphql/context';
import { isPerson } from '../auth/actor';
import { CLASS_INVARIANT_FIELDS, possibleDependants, visibilityClassOf } from '../policy/visibility-class';
import { peopleOf, viewerOf, type LoadedEvent } from './event-batch';
import { messagePolicy } from '../policy/messages';
import type { Viewer } from '../policy/events';

/**
 * Execute once per event and visibility class: subscribers of a channel's events who asked for
 * the same selection with the same variables, and who are in the same visibility class for an
 * event (policy/visibility-class.ts), are sent the result of one execution instead of one each.
 *
 * Only selections made entirely of fields that read the same for everyone of a class are shared
 * (the policy's CLASS_INVARIANT_FIELDS); anything else makes the subscription's events execute
 * per subscriber, as before.
 */

/** The subscription root fields whose events may be shared (their source events are the shared feed's). */
const SHARED_ROOTS = new Set(['channelEvents']);

interface Shareable {
  /** The variables the selection uses (root field arguments do not change an event's result). */
  variables: string[];
  /** Names the document and operation in a group's key (a hash: the text may be long). */
  documentKey: string;
}

/** Whether a subscription's selection can be shared within a visibility class, and what of its variables matter. */
export function shareability(schema: GraphQLSchema, document: ExecutionArgs['document'], operationName?: string | null): Shareable | undefined {
  const operation = getOperationAST(document, operationName);
  // Exactly one root field, written once: a second selection of it would be merged in unchecked.
  if (!operation || operation.operation !== 'subscription' || operation.selectionSet.selections.length !== 1) return undefined;
  const root = operation.selectionSet.selections[0];
  if (root.kind !== Kind.FIELD || !SHARED_ROOTS.has(root.name.value) || !root.selectionSet) return undefined;
  const rootType = schema.getSubscriptionType()?.getFields()[root.name.value]?.type;
  if (!rootType) return undefined;
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const variables = new Set<string>();
  const noteVariables = (value: ValueNode | undefined) => {
    if (!value) return;
    if (value.kind === Kind.VARIABLE) variables.add(value.name.value);
    else if (value.kind === Kind.LIST) value.values.forEach(noteVariables);
    else if (value.kind === Kind.OBJECT) value.fields.forEach((field) => noteVariables(field.value));
  };
  for (const directive of root.directives ?? []) directive.arguments?.forEach((arg) => noteVariables(arg.value));
  const invariant = (type: GraphQLNamedType, selectionSet: SelectionSetNode, seen: Set<string>): boolean =>
    selectionSet.selections.every((selection) => {
      for (const directive of selection.directives ?? []) directive.arguments?.forEach((arg) => noteVariables(arg.value));
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || seen.has(fragment.name.value)) return Boolean(fragment);
        const on = schema.getType(fragment.typeCondition.name.value);
        return Boolean(on) && invariant(on!, fragment.selectionSet, new Set([...seen, fragment.name.value]));
      }
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        return Boolean(on) && invariant(on!, selection.selectionSet, seen);
      }
      const name = selection.name.value;
      if (name === '__typename') return true;
      selection.arguments?.forEach((arg) => noteVariables(arg.value));
      if (isUnionType(type)) return false;
      if (!isObjectType(type) || !CLASS_INVARIANT_FIELDS[type.name]?.has(name)) return false;
      const field = type.getFields()[name];
      if (!field) return false;
      if (!selection.selectionSet) return true;
      const target = getNamedType(field.type);
      if (isUnionType(target)) return selection.selectionSet.selections.every((inner) => inner.kind !== Kind.FIELD || inner.name.value === '__typename') && invariant(target, selection.selectionSet, seen);
      return invariant(target, selection.selectionSet, seen);
    });
  if (!invariant(getNamedType(rootType), root.selectionSet, new Set())) return undefined;
  const text = document.loc?.source.body;
  if (!text) return undefined;
  return { variables: [...variables].sort(), documentKey: createHash('sha256').update(`${operationName ?? ''}\u0000${text}`).digest('base64url') };
}

/** How many events this process executed for subscribers, and how many it sent from another's execution. */
export const sharedExecutionStats = { executed: 0, reused: 0 };

/** Results of recent (event, group) executions, shared by the subscribers of a group. */
class RecentResults {
  private readonly results = new Map<string, Promise<ExecutionResult>>();

  constructor(private readonly max: number) {}

  getOrRun(key: string, run: () => Promise<ExecutionResult>): Promise<ExecutionResult> {
    let result = this.results.get(key);
    if (result) sharedExecutionStats.reused += 1;
    else {
      if (this.results.size >= this.max) this.results.delete(this.results.keys().next().value!);
      this.results.set(key, (result = run()));
      // A result with errors (a database hiccup) is not handed to anyone else.
      void result.then((value) => value.errors?.length && this.results.get(key) === result && this.results.delete(key), () => this.results.delete(key));
    }
    return result;
  }
}

/**
 * graphql-ws's `subscribe`: the source stream as usual (the subscribe resolver authorizes and
 * filters per subscriber), and each event executed once per group of subscribers who would get
 * the same result.
 */
export function createSharedSubscribe(options: { maxResults?: number } = {}) {
  const recent = new RecentResults(options.maxResults ?? 2_000);
  // Per document and operation: one document may hold several operations, and subscribers of the
  // same text share one parsed document (ws.ts), each naming the operation it runs.
  const plans = new WeakMap<ExecutionArgs['document'], Map<string, Shareable | null>>();
  return async function subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const source = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in source)) return source;
    let byOperation = plans.get(args.document);
    if (!byOperation) plans.set(args.document, (byOperation = new Map()));
    const operationKey = args.operationName ?? '';
    let plan = byOperation.get(operationKey);
    if (plan === undefined) byOperation.set(operationKey, (plan = shareability(args.schema, args.document, args.operationName) ?? null));
    const context = args.contextValue as Context;
    const executeOne = async (event: unknown) => {
      sharedExecutionStats.executed += 1;
      try {
        return (await execute({ ...args, rootValue: event })) as ExecutionResult;
      } finally {
        // An idle subscriber keeps no rows, loaders or services between events.
        context.release();
      }
    };
    const groupOf = (event: LoadedEvent): string | undefined => {
      // The caller as they are now (a stream takes their role groups afresh at each check).
      const current = context.actor;
      if (!plan || !isPerson(current) || !event?.record) return undefined;
      const people = peopleOf(event);
      const viewer = { ...viewerOf(current), dependantKeys: current.kind === 'patient' ? possibleDependants(people) : undefined };
      const visibility = visibilityClassOf(viewer, event.record, people);
      if (!visibility || visibility.startsWith('person:')) return undefined;
      // About an earlier message of a group (a reaction, an edit): patients who joined at different times see it differently.
      if (aboutEarlierGroupMessage(viewer, event)) return undefined;
      const given = args.variableValues ?? {};
      const variables = plan.variables.map((name) => (Object.prototype.hasOwnProperty.call(given, name) ? JSON.stringify(given[name]) : '-')).join(',');
      // The event object itself, not its position: only subscribers handed the very same event
      // (the shared feed's, during its fan-out) share; an event read again from the database is
      // executed afresh (it may have been edited or deleted since).
      return `${current.organisationId}|${eventSerial(event)}|${visibility}|${plan.documentKey}|${variables}`;
    };
    const iterator = (source as AsyncIterableIterator<unknown>)[Symbol.asyncIterator]();
    const shared: AsyncIterableIterator<ExecutionResult> = {
      [Symbol.asyncIterator]: () => shared,
      async next() {
        const step = await iterator.next();
        if (step.done) return { done: true, value: undefined };
        const event = step.value as LoadedEvent;
        const group = groupOf(event);
        const value = group ? await recent.getOrRun(group, () => executeOne(event)) : await executeOne(event);
        return { done: false, value };
      },
      async return() {
        await iterator.return?.();
        return { done: true, value: undefined };
      },
      async throw(error: unknown) {
        if (iterator.throw) await iterator.throw(error);
        throw error;
      },
    };
    return shared;
  };
}

const serials = new WeakMap<object, number>();
let nextSerial = 0;
/** A number for each event object this process holds (feed events are shared objects). */
function eventSerial(event: object): number {
  let serial = serials.get(event);
  if (serial === undefined) serials.set(event, (serial = ++nextSerial));
  return serial;
}

/** Whether an event is about a message of a group written before it, seen by someone whose view of a group's history turns on when they joined. */
function aboutEarlierGroupMessage(viewer: Viewer, event: LoadedEvent): boolean {
  const { messageId, channelId, seq } = event.record;
  if (!messageId) return false;
  const channel = event.related.channels.find((row) => row.id === channelId);
  if (!channel || !messagePolicy.historyTurnsOnJoining(viewer, channel)) return false;
  const message = event.related.messages.find((row) => row.id === messageId);
  return !message || message.seq < seq;
}
