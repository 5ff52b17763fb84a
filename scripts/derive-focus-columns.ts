/**
 * Derives the machine-readable column table the FOCUS export is validated against
 * (src/ledger/focus/focus-columns.json) from the FinOps Foundation's FOCUS_Spec repository:
 * each column file's "Content constraints" table (feature level, nulls, data type, value format)
 * and its allowed-values table. Only those facts are kept, never the spec's prose.
 *
 *   tsx scripts/derive-focus-columns.ts <FOCUS_Spec git dir> <tag, e.g. v1.2> > src/ledger/focus/focus-columns.json
 */
import { execFileSync } from 'node:child_process';

const [gitDir, ref] = process.argv.slice(2);
if (!gitDir || !ref) {
  process.stderr.write('usage: derive-focus-columns <FOCUS_Spec git dir> <tag>\n');
  process.exit(2);
}
const git = (...args: string[]) => execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
const commit = git('rev-parse', `${ref}^{commit}`).trim();
const files = git('ls-tree', '--name-only', commit, 'specification/columns/').split('\n').filter((f) => f.endsWith('.md'));

const cells = (line: string) => line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
const isRule = (line: string) => /^\|[\s:|-]+\|?\s*$/.test(line.trim());

function tableAfter(lines: string[], start: number): string[][] {
  const rows: string[][] = [];
  let i = start;
  while (i < lines.length && !lines[i].trim().startsWith('|')) i++;
  for (; i < lines.length && lines[i].trim().startsWith('|'); i++) if (!isRule(lines[i])) rows.push(cells(lines[i]));
  return rows.slice(1); // the header row
}

const columns = files.map((file) => {
  const lines = git('show', `${commit}:${file}`).split('\n');
  const idAt = lines.findIndex((l) => /^## Column ID/i.test(l));
  const id = lines.slice(idAt + 1).find((l) => l.trim())!.trim();
  const constraintsAt = lines.findIndex((l) => /^## Content constraints/i.test(l));
  const constraints = Object.fromEntries(tableAfter(lines, constraintsAt).map(([k, v]) => [k.toLowerCase(), v]));
  const allowedAt = lines.findIndex((l) => /^Allowed values/i.test(l.trim()));
  let allowed: string[] | undefined;
  let allowedByParent: Record<string, string[]> | undefined;
  if (allowedAt >= 0) {
    const rows = tableAfter(lines, allowedAt);
    const header = cells(lines.slice(allowedAt).find((l) => l.trim().startsWith('|'))!);
    if (header.length >= 3 && /category/i.test(header[0]) && /subcategory/i.test(header[1])) {
      allowedByParent = {};
      for (const [parent, value] of rows) (allowedByParent[parent] ??= []).push(value);
      allowed = rows.map((r) => r[1]);
    } else {
      allowed = rows.map((r) => r[0]);
    }
  }
  const format = (constraints['value format'] ?? '').replace(/\\</g, '<').replace(/\[([^\]]+)\]\([^)]*\)/g, '$1');
  return {
    id,
    column_type: constraints['column type'],
    feature_level: constraints['feature level'],
    allows_nulls: /^true$/i.test(constraints['allows nulls'] ?? ''),
    data_type: constraints['data type'],
    value_format: format,
    ...(allowed ? { allowed_values: allowed } : {}),
    ...(allowedByParent ? { allowed_values_by_ServiceCategory: allowedByParent } : {}),
  };
});

const bad = columns.filter((c) => !c.feature_level || !c.data_type);
if (bad.length) throw new Error(`column files without a constraints table: ${bad.map((c) => c.id).join(', ')}`);
process.stdout.write(`${JSON.stringify({
  focus_version: ref.replace(/^v/, ''),
  source: { repository: 'github.com/FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec', ref, commit, files: 'specification/columns/*.md, Content constraints and Allowed values tables' },
  columns,
}, null, 2)}\n`);
