import { copyLine, copyText, COST_EVENT_COLUMNS } from '../../consumers/storage/copy-rows';
import { CostEvent } from '../../src/events';

describe('COPY text rows', () => {
  it('escapes backslash, tab, newline and carriage return, and writes NULL as \\N', () => {
    expect(copyText('a\\b\tc\nd\re')).toBe('a\\\\b\\tc\\nd\\re');
    expect(copyText(null)).toBe('\\N');
    expect(copyText(undefined)).toBe('\\N');
  });

  it('writes one field per column with exact money and micro-unit decimals', () => {
    const event: CostEvent = {
      event_id: 'e', event_time: new Date('2026-01-02T03:04:05.006Z'), cost_type: 'kubernetes', amount: 334_042n, currency: 'USD',
      persona_id: 'p\tq', post_id: null, operation: null, service: 'svc', correlation_id: null, request_id: null, llm_usage: null,
      compute_usage: { resource_type: 'kubernetes', cpu_cores: 500_000n, memory_gb: 1_000_000n, duration_ms: 60_000 }, vector_db_usage: null,
      price: { source: 'config', version: 'v', status: 'priced', unit_prices: { cpu_core_hour: '0.031611' } }, metadata: { note: 'line1\nline2' },
    };
    const line = copyLine({ event, partition: 3, offset: '42' });
    expect(line.endsWith('\n')).toBe(true);
    const fields = line.slice(0, -1).split('\t');
    expect(fields).toHaveLength(COST_EVENT_COLUMNS.length);
    const col = (name: (typeof COST_EVENT_COLUMNS)[number]) => fields[COST_EVENT_COLUMNS.indexOf(name)];
    expect(col('amount_usd')).toBe('0.000334042');
    expect(col('persona_id')).toBe('p\\tq');
    expect(col('cpu_cores')).toBe('0.500000');
    expect(col('memory_gb')).toBe('1.000000');
    expect(col('post_id')).toBe('\\N');
    expect(col('metadata')).toBe('{"note":"line1\\\\nline2"}');
    expect(col('kafka_offset')).toBe('42');
  });
});
