import fs from 'node:fs';
import path from 'node:path';
import { buildSchema, type GraphQLSchema } from 'graphql';
import { CriticalityLevel, diff } from '@graphql-inspector/core';

/**
 * The schema may grow; it breaks clients only when announced (docs/schema-changes.md). Compared
 * with what frontends were last given (docs/schema-released.graphql).
 */
const read = (file: string) => fs.readFileSync(path.join(__dirname, '..', file), 'utf8');

/** Breaking changes from `before` to `after` that docs/schema-changes.md does not announce, as "path: message". */
async function unannouncedBreakingChanges(before: GraphQLSchema, after: GraphQLSchema, announcements: string): Promise<string[]> {
  const announced = new Set([...announcements.matchAll(/^- `?([^`:\s]+)`?:/gm)].map((match) => match[1]));
  const changes = await diff(before, after);
  return changes
    .filter((change) => change.criticality.level === CriticalityLevel.Breaking && !announced.has(change.path ?? ''))
    .map((change) => `${change.path}: ${change.message}`);
}

const released = buildSchema(read('docs/schema-released.graphql'));
const current = buildSchema(read('schema.graphql'));

it('schema.graphql makes no breaking change to the released schema that docs/schema-changes.md does not announce', async () => {
  expect(await unannouncedBreakingChanges(released, current, read('docs/schema-changes.md'))).toEqual([]);
});

it('denied: the check finds a field removed, a result made nullable and an argument made required, unless announced', async () => {
  const withProbes = (probes: string) => buildSchema(`${read('schema.graphql')}\nextend type Query { ${probes} }`);
  const before = withProbes('compatRemoved: Int compatResult: Int! compatArgument(value: Int): Int');
  const after = withProbes('compatResult: Int compatArgument(value: Int!): Int');
  const found = await unannouncedBreakingChanges(before, after, '');
  expect(found.map((line) => line.split(':')[0]).sort()).toEqual(['Query.compatArgument.value', 'Query.compatRemoved', 'Query.compatResult']);
  // Announced: it passes.
  const announcements = found.map((line) => `- \`${line.split(':')[0]}\`: announced; clients do something else (2026-12-03)`).join('\n');
  expect(await unannouncedBreakingChanges(before, after, announcements)).toEqual([]);
});
