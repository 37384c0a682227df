import type { CodegenConfig } from '@graphql-codegen/cli';

/** Typed documents for the tests' operations, generated from the committed schema. */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/operations/**/*.graphql'],
  generates: {
    'test/generated/graphql.ts': {
      plugins: ['typescript-operations', 'typed-document-node'],
      config: { enumsAsTypes: true, scalars: { DateTimeISO: 'string' }, avoidOptionals: false, useTypeImports: true },
    },
  },
  silent: true,
};

export default config;
