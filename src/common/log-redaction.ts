/**
 * What a logged error may say. Database errors carry the statement and its parameters (the ORM
 * puts both in the message) and PostgreSQL's detail ("Failing row contains (…)"): message bodies,
 * names, search text. Other errors may quote what they were given. So a logged error keeps its
 * type, codes and stack frames, and a message with every quoted value taken out; a database
 * error keeps only what names the failure (SQLSTATE, constraint, table, column, routine).
 */

/** The fields of a PostgreSQL error (node-postgres) or of the ORM's wrapper that say what failed, not with what. */
interface DatabaseErrorFields {
  code?: string;
  sqlState?: string;
  severity?: string;
  routine?: string;
  constraint?: string;
  table?: string;
  column?: string;
  dataType?: string;
}

export interface LoggedError {
  type: string;
  message: string;
  stack?: string;
  code?: string;
  database?: Omit<DatabaseErrorFields, 'code' | 'sqlState'> & { sqlState: string };
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
const MAX_MESSAGE = 300;

/** The database error in an error's chain (the ORM wraps the driver's), if any. */
function databaseErrorIn(error: Error): DatabaseErrorFields | undefined {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    const fields = current as Error & DatabaseErrorFields;
    const state = fields.sqlState ?? fields.code;
    if (typeof state === 'string' && SQLSTATE.test(state) && (fields.severity !== undefined || fields.routine !== undefined || fields.sqlState !== undefined || /Exception$/.test(current.name))) {
      return { ...fields, sqlState: state };
    }
    current = (current as { cause?: unknown; previous?: unknown }).cause ?? (current as { previous?: unknown }).previous;
  }
  return undefined;
}

/** A message with its quoted parts (where values are) replaced, and cut to a sane length. */
export function scrubMessage(message: string): string {
  const scrubbed = message
    // No backslash escapes (PostgreSQL has none in quotes); an unclosed quote takes the rest.
    .replace(/"[^"]*("|$)/g, '"…"')
    .replace(/'[^']*('|$)/g, "'…'")
    .replace(/`[^`]*(`|$)/g, '`…`')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]/g, ' ');
  return scrubbed.length > MAX_MESSAGE ? `${scrubbed.slice(0, MAX_MESSAGE)}…` : scrubbed;
}

/** Only the "at …" lines of a stack: its first lines repeat the message. */
const framesOf = (stack: string | undefined) =>
  stack
    ?.split('\n')
    .filter((line) => line.trimStart().startsWith('at '))
    .slice(0, 12)
    .join('\n');

/** The pino serializer for `err` and `error`: see the module comment. Values that are not errors pass as they are. */
export function loggedError(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const database = databaseErrorIn(value);
  const type = value.constructor?.name || value.name || 'Error';
  if (database) {
    const { sqlState, severity, routine, constraint, table, column, dataType } = database as DatabaseErrorFields & { sqlState: string };
    return {
      type,
      message: `database error ${sqlState}${constraint ? ` (${constraint})` : ''}`,
      stack: framesOf(value.stack),
      code: sqlState,
      database: { sqlState, severity, routine, constraint, table, column, dataType },
    } satisfies LoggedError;
  }
  const code = (value as { code?: unknown }).code;
  return { type, message: scrubMessage(value.message), stack: framesOf(value.stack), code: typeof code === 'string' ? code : undefined } satisfies LoggedError;
}
