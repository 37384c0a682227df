import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/**
 * The privacy rules live in src/policy/ alone: no SQL elsewhere may spell a channel kind or
 * filter on internal notes / staff-only events, and no code elsewhere may filter internal notes
 * or check a permission by hand. (An `on conflict ... where kind ...` clause names the partial
 * unique index it means and is not a visibility rule; it is left out.)
 */
const SRC = join(__dirname, '..', 'src');
const POLICY = join(SRC, 'policy');

const KIND_LITERAL = /'(CARE_TEAM|SERVICE_TEAM|STAFF|GROUP|DIRECT|CONVERSATION)'/;
const NOTE_FILTER_SQL = /\bnot\s+(\w+\.)?(internal|staff_only)\b|\b(\w+\.)?(internal|staff_only)\s*(=|<>|!=|\bis\b)|\b(and|or|where)\s+(\w+\.)?(internal|staff_only)\b/i;
const CODE_RULES: Array<[RegExp, string]> = [
  [/\binternal:\s*false\b|\.internal\s*=\s*false/, 'an internal-note filter (ask messagePolicy)'],
  [/permissions\.includes\(/, 'a permission check (ask can(actor, action))'],
  [/kind !== 'staff' && \w+\??\.kind !== 'patient'/, 'a hand-written person check (use isPerson)'],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return path === POLICY ? [] : sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every string and template literal (SQL or a piece of it) of a file, templates with `${}` where their expressions were. */
function literals(file: string): Array<{ text: string; line: number }> {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Array<{ text: string; line: number }> = [];
  const visit = (node: ts.Node) => {
    const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) found.push({ text: node.text, line });
    else if (ts.isTemplateExpression(node)) found.push({ text: [node.head.text, ...node.templateSpans.map((span) => span.literal.text)].join('${}'), line });
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const withoutIndexInference = (sql: string) => sql.replace(/on conflict[\s\S]*?\bdo\b/gi, '');

/** What a file breaks: `file:line: what`. */
export function boundaryViolations(file: string): string[] {
  const name = relative(join(SRC, '..'), file);
  const problems: string[] = [];
  for (const { text, line } of literals(file)) {
    const sql = withoutIndexInference(text);
    if (KIND_LITERAL.test(sql)) problems.push(`${name}:${line}: a channel kind in SQL (compose channelPolicy.sql)`);
    if (NOTE_FILTER_SQL.test(sql)) problems.push(`${name}:${line}: an internal-note or staff-only filter in SQL (compose messagePolicy.sql / eventPolicy.sql)`);
  }
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, index) => {
      for (const [pattern, what] of CODE_RULES) if (pattern.test(text)) problems.push(`${name}:${index + 1}: ${what}`);
    });
  return problems;
}

describe('the policy layer is the only place that knows the privacy rules', () => {
  it('no SQL outside src/policy spells a channel kind or filters internal notes, and no code checks permissions or notes by hand', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(50);
    expect(files.flatMap(boundaryViolations)).toEqual([]);
  });

  it('the check finds each kind of violation (so the test above can fail)', () => {
    const probe = (code: string) => {
      const file = join(__dirname, '..', '.probe-policy-boundaries.ts');
      require('node:fs').writeFileSync(file, code);
      try {
        return boundaryViolations(file);
      } finally {
        require('node:fs').unlinkSync(file);
      }
    };
    expect(probe("const q = `select * from channel c where c.kind <> 'STAFF'`;")).toHaveLength(1);
    expect(probe("const q = `select * from message m where m.organisation_id = ? ${x ? '' : 'and not m.internal'}`;")).toHaveLength(1);
    expect(probe("const q = `select * from message m where m.organisation_id = ? and not m.internal`;")).toHaveLength(1);
    expect(probe("const q = 'select * from channel_event e where e.organisation_id = ? and e.staff_only = false';")).toHaveLength(1);
    expect(probe("const where = { organisationId, internal: false };")).toHaveLength(1);
    expect(probe("if (!actor.permissions.includes('MESSAGING_ADMIN')) throw forbidden();")).toHaveLength(1);
    expect(probe("insert into channel (kind) values ('DIRECT') on conflict (organisation_id, direct_key) where kind = 'DIRECT' do nothing")).toHaveLength(0);
    expect(probe("const q = `insert into channel (kind) values (?) on conflict (organisation_id, direct_key) where kind = 'DIRECT' do nothing returning id`;")).toHaveLength(0);
  });
});
