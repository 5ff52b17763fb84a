import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, RULES_FILE } from './prometheus-support';

/** promtool (Debian's prometheus package) checks the shipped rules and scrape configuration. */
function promtool(...args: string[]): { ok: boolean; out: string } {
  try {
    return { ok: true, out: execFileSync('/usr/bin/promtool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('promtool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'finops-promtool-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts the alert rules', () => {
    const r = promtool('check', 'rules', RULES_FILE);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.ok).toBe(true);
  });

  it('accepts the scrape configuration', () => {
    const r = promtool('check', 'config', join(ROOT, 'prometheus', 'prometheus.yml'));
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.ok).toBe(true);
  });

  it('rejects a broken rule file (the check can fail)', () => {
    const bad = join(dir, 'bad.rules.yml');
    writeFileSync(bad, 'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m]) > \n');
    expect(promtool('check', 'rules', bad).ok).toBe(false);
  });
});
