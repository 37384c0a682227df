import fs from 'node:fs';
import path from 'node:path';
import { isEnumType, isInputObjectType, isIntrospectionType, isObjectType, isUnionType, isInterfaceType, isScalarType, isSpecifiedScalarType } from 'graphql';
import { buildContractSchema, printContractSchema } from '../src/graphql/schema';
import { permissionMap } from '../src/graphql/permissions';
import { guardSchema } from '../src/graphql/guard';
import { buildSchema } from 'graphql';

describe('schema.graphql', () => {
  it('is what the type-graphql classes emit (run `npm run schema:emit` after changing them)', () => {
    const committed = fs.readFileSync(path.join(__dirname, '..', 'schema.graphql'), 'utf8');
    expect(committed).toBe(printContractSchema());
  });

  it('describes every type, field, argument and enum value', () => {
    const missing: string[] = [];
    for (const type of Object.values(buildContractSchema().getTypeMap())) {
      if (isIntrospectionType(type) || (isScalarType(type) && isSpecifiedScalarType(type))) continue;
      const root = ['Query', 'Mutation', 'Subscription'].includes(type.name);
      if (!type.description && !root) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of 'args' in field ? field.args : []) if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
        }
      }
      if (isEnumType(type)) for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
      if (isUnionType(type) && !type.description) missing.push(type.name);
    }
    expect(missing).toEqual([]);
  });

  it('has a permission rule for every operation and object type (fallback deny catches the rest)', () => {
    const schema = buildContractSchema();
    const missing: string[] = [];
    for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
      const rules = (permissionMap as unknown as Record<string, Record<string, unknown>>)[root!.name];
      for (const field of Object.keys(root!.getFields())) if (!rules?.[field]) missing.push(`${root!.name}.${field}`);
    }
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || isIntrospectionType(type) || ['Query', 'Mutation', 'Subscription'].includes(type.name)) continue;
      if (!(type.name in permissionMap)) missing.push(type.name);
    }
    expect(missing).toEqual([]);
  });

  it('denied by construction: an operation or object type missing from the permission map stops the server from building its schema', () => {
    const unlisted = buildSchema('type Query { me: String, secretReport: Report } type Report { body: String }');
    expect(() => guardSchema(unlisted, () => undefined)).toThrow('No permission rule for: Query.secretReport, Report');
    expect(() => guardSchema(buildContractSchema(), () => undefined)).not.toThrow();
  });
});
