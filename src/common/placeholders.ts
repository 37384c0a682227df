/** `{{ name }}` placeholders, as message and notification templates write them. */
const PLACEHOLDER = /\{\{\s*([\w.]+)\s*\}\}/g;

/** The placeholders of `text` that are not among `allowed`. */
export const unknownPlaceholders = (text: string, allowed: readonly string[]): string[] =>
  [...text.matchAll(PLACEHOLDER)].map((match) => match[1]).filter((name) => !allowed.includes(name));

/**
 * `text` with each placeholder replaced by its value passed through `escape`; `missing` names a
 * placeholder without a value (it is replaced by nothing).
 */
export function fillPlaceholders(text: string, values: Record<string, string | undefined>, escape: (value: string) => string = (value) => value): { text: string; missing?: string } {
  let missing: string | undefined;
  const filled = text.replace(PLACEHOLDER, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) missing = name;
    return escape(value ?? '');
  });
  return { text: filled, missing };
}
