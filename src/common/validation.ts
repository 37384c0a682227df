import { z } from 'zod';
import { UserError, UserErrorCode, UserErrors } from '../errors';
import { nameProblem, normaliseName } from '../policy/names';

/**
 * Validates a mutation input against its schema. Every problem becomes a UserError naming the
 * field; a refinement may carry its own code in `params.code` (e.g. BODY_TOO_LONG).
 */
export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown): z.output<S> {
  const unsafe = unsafeTextIn(input);
  if (unsafe) throw new UserError(UserErrorCode.INVALID_INPUT, 'Text must not contain control characters and must be valid UTF-8.', ['input', ...unsafe].join('.'));
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new UserErrors(
    result.error.issues.map((issue) => {
      const code = issue.code === 'custom' && issue.params?.code ? (issue.params.code as UserErrorCode) : UserErrorCode.INVALID_INPUT;
      return new UserError(code, issue.message, ['input', ...issue.path].join('.'));
    }),
  );
}

// eslint-disable-next-line no-control-regex
const UNSAFE_CHARACTERS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The path of the first string in an operation's arguments that no text field accepts: NUL and
 * other control characters (tab, line feed and carriage return aside), or unpaired surrogates
 * (not UTF-8). PostgreSQL refuses some of them on insert, logs and terminals misread the rest.
 */
export function unsafeTextIn(value: unknown): string[] | undefined {
  if (typeof value === 'string') return UNSAFE_CHARACTERS.test(value) ? [] : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  // The path is built only on the way back from a find: every operation's arguments pass through here.
  for (const [key, item] of Object.entries(value)) {
    const found = unsafeTextIn(item);
    if (found) return [key, ...found];
  }
  return undefined;
}

/** PostgreSQL text cannot hold NUL; refuse it as bad input instead of failing on insert. */
const noNul = (value: string) => !value.includes('\u0000');

/** Trimmed text between 1 and `max` characters. */
export const requiredText = (label: string, max: number) =>
  z
    .string()
    .refine(noNul, `${label} must not contain NUL characters.`)
    .transform((value) => value.trim())
    .pipe(z.string().min(1, `${label} must not be empty.`).max(max, `${label} must be at most ${max} characters.`));

/** A name people are shown by: normalised as stored (names.ts), within `max` characters, refused if it cannot read as what it is. */
export const personName = (label: string, max: number) =>
  requiredText(label, max)
    .transform(normaliseName)
    .superRefine((name, ctx) => {
      const problem = nameProblem(name);
      if (problem) ctx.addIssue({ code: 'custom', message: `${label} ${problem}.` });
    });

export const uuid = (label: string) => z.string().uuid(`${label} is not a valid id.`);
const anyUuid = uuid('id');
/** Whether a value is an id `uuid` accepts (one shared schema: this runs on every lookup by id). */
export const isUuid = (value: unknown): value is string => anyUuid.safeParse(value).success;
export const email = z.string().trim().toLowerCase().email('Not a valid email address.').max(320).nullish();
export const phone = z
  .string()
  .trim()
  .regex(/^\+?[0-9 ()-]{5,32}$/, 'Not a valid phone number.')
  .nullish();

/** A message body: markdown stored as written (not trimmed), within the configured size; empty only where `allowEmpty`. */
export const messageBody = (maxChars: number, allowEmpty = false) =>
  z.string().superRefine((body, ctx) => {
    if (body.trim().length === 0 && !allowEmpty) ctx.addIssue({ code: 'custom', message: 'The message body must not be empty.' });
    else if (!noNul(body)) ctx.addIssue({ code: 'custom', message: 'The message body must not contain NUL characters.' });
    else if (body.length > maxChars)
      ctx.addIssue({
        code: 'custom',
        message: `The message body must be at most ${maxChars} characters.`,
        params: { code: UserErrorCode.BODY_TOO_LONG },
      });
  });

/** A schema that depends on configuration: built once per configuration, not once per request. */
export function perConfig<C extends object, T>(build: (config: C) => T): (config: C) => T {
  const built = new WeakMap<C, T>();
  return (config) => {
    let value = built.get(config);
    if (value === undefined) built.set(config, (value = build(config)));
    return value;
  };
}
