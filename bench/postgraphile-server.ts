import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';

// Installed apart, with its own graphql (see installPostGraphile); POSTGRAPHILE_DIR names the folder.
const { postgraphile } = createRequire(path.join(process.env.POSTGRAPHILE_DIR!, 'package.json'))('postgraphile') as {
  postgraphile: (database: string, schema: string, options: Record<string, unknown>) => http.RequestListener;
};

/**
 * The peer for page reads: PostGraphile 4 over the same database and tables, as a plain HTTP
 * server (no auth, no audit, no row checks), printing its GraphQL URL when ready.
 */
const middleware = postgraphile(process.env.DATABASE_URL!, 'public', {
  graphiql: false,
  disableDefaultMutations: true,
  ignoreRBAC: false,
  retryOnInitFail: false,
  disableQueryLog: true,
});
const server = http.createServer(middleware);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : address}/graphql\n`);
});
