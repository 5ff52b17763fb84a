import { Pool } from 'pg';
import { createPool } from '../../src/db/pool';
import { FOCUS_EXPORT_COLUMNS, FOCUS_SPEC_COLUMNS, FOCUS_VERSION } from '../../src/ledger/focus/columns';
import { focusCsvStream, FocusExportRequest } from '../../src/ledger/focus/export';
import { FocusCsvValidator, parseCsvLine } from '../../src/ledger/focus/validate';
import { reprice } from '../../src/ledger/reprice';
import { formatUsd, nanoFromNumericText, roundHalfUpDiv } from '../../src/money';
import { PriceBook } from '../../src/pricing';
import { writeLedgerRows } from '../../testkit/ledger-rows';
import { uniqueId } from '../../testkit/fixtures';

const EVENTS = 100_000;

describe('FOCUS export', () => {
  let pool: Pool;
  const prefix = uniqueId('focus');
  const start = new Date(Math.floor((Date.now() - 20 * 86_400_000) / 3_600_000) * 3_600_000);
  const end = new Date(start.getTime() + 48 * 3_600_000);
  const request = (extra: Partial<FocusExportRequest> = {}): FocusExportRequest => ({
    start, end, billingAccountId: 'test-account', billingAccountName: 'Test account', invoiceIssuerName: 'Test ledger', ...extra,
  });

  beforeAll(async () => {
    pool = createPool({}, 'test-focus');
    await writeLedgerRows(pool, { prefix, count: EVENTS, start, spanMs: end.getTime() - start.getTime(), personas: 20, posts: 400 });
    const book = new PriceBook({ unknownModel: 'flag', modelOverrides: {}, cpuUsdPerCoreHour: '0.031611', memoryUsdPerGbHour: '0.004237', vectorDbUsdPerUnit: {} });
    await reprice(pool, book, { start, end, models: ['gpt-4o'], personaIds: [`${prefix}-persona-0`, `${prefix}-persona-1`], actor: 'test', reason: 'adjustment rows for the export' });
  });
  afterAll(() => pool.end());

  const exportCsv = async (req: FocusExportRequest) => {
    const stream = await focusCsvStream(pool, req);
    let text = '';
    for await (const chunk of stream) text += chunk.toString();
    return text;
  };
  const ledgerNano = async (persona?: string) => {
    const { rows } = await pool.query(
      `SELECT (SELECT coalesce(sum(amount_usd), 0)::text FROM cost_events WHERE event_time >= $1 AND event_time < $2 AND ($3::text IS NULL OR persona_id = $3)) AS events,
              (SELECT coalesce(sum(new_amount_usd - old_amount_usd), 0)::text FROM cost_adjustments WHERE event_time >= $1 AND event_time < $2 AND ($3::text IS NULL OR persona_id = $3)) AS adjustments`,
      [start, end, persona ?? null],
    );
    return { events: nanoFromNumericText(rows[0].events), adjustments: nanoFromNumericText(rows[0].adjustments) };
  };

  it(`exports ${EVENTS} random events with every mandatory FOCUS ${FOCUS_VERSION} column, typed per the spec, summing to the ledger to the nano-dollar`, async () => {
    const text = await exportCsv(request());
    const validator = new FocusCsvValidator();
    validator.push(text);
    const result = validator.finish();
    expect(result.errors).toEqual([]);
    expect(result.columns).toEqual([...FOCUS_EXPORT_COLUMNS]);
    const mandatory = FOCUS_SPEC_COLUMNS.filter((c) => c.feature_level === 'Mandatory').map((c) => c.id);
    expect(mandatory.length).toBeGreaterThanOrEqual(20);
    expect(mandatory.filter((c) => !result.columns.includes(c))).toEqual([]);

    const ledger = await ledgerNano();
    expect(ledger.adjustments).not.toBe(0n);
    expect(result.billed_nano).toBe(ledger.events + ledger.adjustments);
    expect(result.effective_nano).toBe(ledger.events + ledger.adjustments);
    expect(result.list_nano).toBe(ledger.events + ledger.adjustments);

    const lines = text.trim().split('\n');
    const header = parseCsvLine(lines[0]) as string[];
    const col = (name: string) => header.indexOf(name);
    const rows = lines.slice(1).map(parseCsvLine);
    expect(rows.length).toBe(result.rows);
    expect(rows.every((r) => r[col('BillingCurrency')] === 'USD')).toBe(true);
    expect(rows.every((r) => Date.parse(r[col('ChargePeriodStart')]!) < Date.parse(r[col('ChargePeriodEnd')]!))).toBe(true);
    const adjustments = rows.filter((r) => r[col('ChargeCategory')] === 'Adjustment');
    expect(adjustments.length).toBeGreaterThan(0);
    expect(adjustments.reduce((s, r) => s + nanoFromNumericText(r[col('BilledCost')]), 0n)).toBe(ledger.adjustments);
    // SKUs by model and token kind, CPU, memory and vector operation.
    const skus = new Set(rows.map((r) => r[col('SkuId')]));
    for (const sku of ['openai/gpt-4o:input', 'openai/gpt-4o:output', 'kubernetes:cpu', 'kubernetes:memory', 'vector_db:query']) expect(skus).toContain(sku);
    const tags = JSON.parse(rows.find((r) => r[col('SubAccountId')] === `${prefix}-persona-3`)![col('Tags')]!);
    expect(tags).toEqual({ persona: `${prefix}-persona-3` });
  });

  it('states Kubernetes quantities as core-hours and GB-hours rounded half-up to nine decimals, from the exact sums of the events', async () => {
    // Independent of the export: Σ cores × ms and Σ GB × ms per UTC hour and persona in BigInt (both columns are scale 6).
    const { rows: events } = await pool.query<{ hour: string; persona_id: string; cpu_cores: string; memory_gb: string; duration_ms: string }>(
      `SELECT to_char(date_trunc('hour', event_time AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS hour, persona_id,
              cpu_cores::text, memory_gb::text, duration_ms::text
       FROM cost_events WHERE cost_type = 'kubernetes' AND persona_id LIKE $3 AND event_time >= $1 AND event_time < $2`,
      [start, end, `${prefix}-persona-%`],
    );
    expect(events.length).toBeGreaterThan(1000);
    const micro = (text: string) => { const [i, f = ''] = text.split('.'); return BigInt(i + f.padEnd(6, '0').slice(0, 6)); };
    const sums = new Map<string, { cpu: bigint; memory: bigint }>();
    for (const e of events) {
      const key = `${e.hour}|${e.persona_id}`;
      const s = sums.get(key) ?? { cpu: 0n, memory: 0n };
      s.cpu += micro(e.cpu_cores) * BigInt(e.duration_ms);
      s.memory += micro(e.memory_gb) * BigInt(e.duration_ms);
      sums.set(key, s);
    }
    // micro-units × ms → hours at nine decimals: × 1e9 / (1e6 × 3.6e6), rounded once, half-up.
    const hours = (microMs: bigint) => formatUsd(roundHalfUpDiv(microMs * 1_000_000_000n, 1_000_000n * 3_600_000n));
    const text = await exportCsv(request());
    const lines = text.trim().split('\n');
    const header = parseCsvLine(lines[0]) as string[];
    const col = (name: string) => header.indexOf(name);
    // This run's personas only: the database may hold earlier runs' events in the same hours.
    const rows = lines.slice(1).map(parseCsvLine).filter((r) => r[col('x_CostType')] === 'kubernetes' && r[col('SubAccountId')]!.startsWith(`${prefix}-persona-`));
    const seen = { cpu: 0, memory: 0 };
    let inexact = 0;
    for (const r of rows) {
      const kind = r[col('SkuMeter')] as 'cpu' | 'memory';
      const s = sums.get(`${r[col('ChargePeriodStart')]}|${r[col('SubAccountId')]}`)!;
      expect({ kind, consumed: r[col('ConsumedQuantity')], pricing: r[col('PricingQuantity')] }).toEqual({ kind, consumed: hours(s[kind]), pricing: hours(s[kind]) });
      seen[kind]++;
      if ((s[kind] * 1_000_000_000n) % (1_000_000n * 3_600_000n) !== 0n) inexact++;
    }
    expect(seen.memory).toBe(sums.size);
    expect(seen.cpu).toBe(sums.size);
    // The quantities really are rounded (not exact at nine decimals), so a different rounding shows.
    expect(inexact).toBeGreaterThan(sums.size);
  });

  it('exports one persona (and its posts, on request) summing to that persona in the ledger', async () => {
    const persona = `${prefix}-persona-1`;
    const validator = new FocusCsvValidator();
    const text = await exportCsv(request({ personaId: persona, byPost: true }));
    validator.push(text);
    const result = validator.finish();
    expect(result.errors).toEqual([]);
    const ledger = await ledgerNano(persona);
    expect(result.billed_nano).toBe(ledger.events + ledger.adjustments);
    const lines = text.trim().split('\n').slice(1).map(parseCsvLine);
    const tagsAt = FOCUS_EXPORT_COLUMNS.indexOf('Tags');
    expect(lines.every((r) => JSON.parse(r[tagsAt]!).persona === persona && typeof JSON.parse(r[tagsAt]!).post === 'string')).toBe(true);
  });

  it('refuses ranges that are not whole hours or not increasing', async () => {
    await expect(focusCsvStream(pool, request({ start: new Date(start.getTime() + 1000) }))).rejects.toThrow(/whole UTC hour/);
    await expect(focusCsvStream(pool, request({ start: end, end: start }))).rejects.toThrow(/not before/);
  });

  it('the validator finds what breaks the spec', () => {
    const v = new FocusCsvValidator();
    const header: string[] = [...FOCUS_EXPORT_COLUMNS.filter((c) => c !== 'BillingCurrency'), 'Custom'];
    v.push(`${header.join(',')}\n`);
    const row = header.map((c) => ({
      BilledCost: '+1.5', ChargeCategory: 'Refund', ChargePeriodStart: '2026-01-01T01:00:00Z', ChargePeriodEnd: '2026-01-01T01:00:00Z',
      BillingPeriodStart: '2026-01-01T00:00:00Z', BillingPeriodEnd: '2026-02-01', ServiceCategory: 'Compute', ServiceSubcategory: 'Generative AI',
      Tags: '"{""a"":{""b"":1}}"', ServiceName: '',
    } as Record<string, string>)[c] ?? '1');
    v.push(`${row.join(',')}\n`);
    const errors = v.finish().errors.join('\n');
    for (const expected of ['mandatory column BillingCurrency is missing', 'column Custom is neither', 'BilledCost="+1.5" is not in Numeric Format',
      'ChargeCategory="Refund" is not an allowed value', 'ChargePeriodStart is not before ChargePeriodEnd', 'BillingPeriodEnd="2026-02-01" is not a UTC date/time',
      'ServiceSubcategory "Generative AI" is not listed under ServiceCategory "Compute"', 'Tags is not a Key-Value Format JSON object', 'ServiceName is null']) {
      expect(errors).toContain(expected);
    }
  });
});
