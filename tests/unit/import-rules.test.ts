import fs from 'node:fs';
import path from 'node:path';

/**
 * The rooms of the code base and what each may import (docs/architecture.md), checked on every
 * relative import, static or lazy, of every TypeScript file.
 */
const ROOT = path.resolve(__dirname, '../..');

/** A file's room: the top folder, and for consumers/ the role folder (consumers/storage, …). */
function roomOf(file: string): string {
  const [top, second] = path.relative(ROOT, file).split(path.sep);
  return top === 'consumers' ? `consumers/${second}` : top;
}

const ROLES = ['consumers/storage', 'consumers/anomaly', 'consumers/alerts', 'consumers/breaker', 'api', 'ingest'];

/** Rooms each room may import besides itself. */
const MAY_IMPORT: Record<string, string[]> = {
  src: [],
  producers: ['src'],
  ...Object.fromEntries(ROLES.map((r) => [r, ['src']])),
  // HTTP ingest publishes through the SDK's own tracker, so what it accepts is what the SDK accepts.
  ingest: ['src', 'producers'],
  app: ['src', ...ROLES],
  testkit: ['src', 'app', 'producers', ...ROLES],
  benchmarks: ['src', 'app', 'producers', 'testkit', 'k8s', ...ROLES],
  scripts: ['src', 'app', 'producers', 'testkit', ...ROLES],
};

/** Known crossings still to be removed (none). */
const KNOWN: string[] = [];

function tsFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(p);
    return /\.(ts|mts|cts)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const IMPORT_RE = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]*)['"]/gm;

function crossings(): string[] {
  const out = new Set<string>();
  for (const room of Object.keys(MAY_IMPORT)) {
    for (const file of tsFiles(path.join(ROOT, room.split('/')[0]))) {
      const from = roomOf(file);
      const allowed = MAY_IMPORT[from];
      if (!allowed) continue;
      for (const m of fs.readFileSync(file, 'utf8').matchAll(IMPORT_RE)) {
        const to = roomOf(path.resolve(path.dirname(file), m[1]));
        if (to !== from && !allowed.includes(to)) out.add(`${path.relative(ROOT, file)} → ${to}`);
      }
    }
  }
  return [...out].sort();
}

describe('import rules', () => {
  const found = crossings();

  it('src/ imports no role, no role imports another, nothing outside tests/ imports tests/', () => {
    expect(found.filter((c) => !KNOWN.includes(c))).toEqual([]);
  });

  it('no production code loads a module by a computed path (what it needs is handed to it by app/)', () => {
    const computed = ['src', 'producers', 'consumers', 'api', 'app']
      .flatMap((d) => tsFiles(path.join(ROOT, d)))
      .filter((f) => /\b(?:import|require)\s*\(\s*[^'"\s)]/.test(fs.readFileSync(f, 'utf8')))
      .map((f) => path.relative(ROOT, f));
    // codecs.ts requires the optional compression packages (snappy, lz4, zstd) by package name;
    // linear-grouping.ts and record-decoding.ts load kafkajs's own modules to replace them before kafkajs loads.
    expect(computed).toEqual(['src/kafka/codecs.ts', 'src/kafka/linear-grouping.ts', 'src/kafka/record-decoding.ts']);
  });

  it('sees crossings when they are there (the scan itself works)', () => {
    expect(roomOf(path.join(ROOT, 'consumers/breaker/page.ts'))).toBe('consumers/breaker');
    const sample = `import { a } from '../alerts/x';\nexport { b } from "./y";\nconst c = await import('../../tests/z');`;
    expect([...sample.matchAll(IMPORT_RE)].map((m) => m[1])).toEqual(['../alerts/x', './y', '../../tests/z']);
  });
});
