import { getNamedType, isObjectType, Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import { getArgumentValues } from 'graphql/execution/values';

/**
 * The arguments of the field `name` that the current field selects on its result (directly or
 * through fragments on the same type), for a resolver that reads it ahead in its own statement.
 * Undefined unless that is certain: the field is absent, selected more than once, under a
 * condition (@include/@skip) or a fragment on another type, or its arguments are invalid (the
 * field's own resolver reports that).
 */
export function selectedFieldArgs(info: GraphQLResolveInfo, name: string): Record<string, unknown> | undefined {
  const type = getNamedType(info.returnType);
  const definition = isObjectType(type) ? type.getFields()[name] : undefined;
  if (!definition) return undefined;
  const found: FieldNode[] = [];
  let uncertain = false;
  const visit = (selectionSet: SelectionSetNode | undefined, depth: number) => {
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== name) continue;
        if (selection.directives?.length) uncertain = true;
        found.push(selection);
        continue;
      }
      const fragment = selection.kind === Kind.INLINE_FRAGMENT ? selection : info.fragments[selection.name.value];
      if (!fragment || depth > 8 || selection.directives?.length || (fragment.typeCondition && fragment.typeCondition.name.value !== type.name)) {
        uncertain = true;
        continue;
      }
      visit(fragment.selectionSet, depth + 1);
    }
  };
  for (const node of info.fieldNodes) visit(node.selectionSet, 0);
  if (uncertain || found.length !== 1) return undefined;
  try {
    return getArgumentValues(definition, found[0], info.variableValues);
  } catch {
    return undefined;
  }
}

/**
 * Whether the current field selects nothing of its object but `id` (and `__typename`): a resolver
 * that knows the id can answer without reading the row (a cache-normalising client asks exactly
 * that of most related objects). False when unsure (directives, fragments on other types).
 */
export function selectsOnlyId(info: GraphQLResolveInfo): boolean {
  const type = getNamedType(info.returnType);
  if (!isObjectType(type)) return false;
  const onlyId = (selectionSet: SelectionSetNode | undefined, depth: number): boolean =>
    (selectionSet?.selections ?? []).every((selection) => {
      if (selection.directives?.length) return false;
      if (selection.kind === Kind.FIELD) return selection.name.value === 'id' || selection.name.value === '__typename';
      const fragment = selection.kind === Kind.INLINE_FRAGMENT ? selection : info.fragments[selection.name.value];
      if (!fragment || depth > 8 || (fragment.typeCondition && fragment.typeCondition.name.value !== type.name)) return false;
      return onlyId(fragment.selectionSet, depth + 1);
    });
  return info.fieldNodes.every((node) => onlyId(node.selectionSet, 0));
}
