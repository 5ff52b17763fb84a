import client, { Registry } from 'prom-client';
import { observeAll } from '../../src/metrics/observe-all';

const BUCKETS = [0.001, 0.01, 0.1, 1, 10];

async function rendered(observe: (h: client.Histogram<string>) => void, labelNames: string[] = []): Promise<string> {
  const registry = new Registry();
  const h = new client.Histogram({ name: 'latency_seconds', help: 'h', buckets: BUCKETS, labelNames, registers: [registry] });
  observe(h);
  return registry.metrics();
}

describe('observeAll', () => {
  const values = [0, 0.0005, 0.001, 0.002, 0.05, 0.1, 0.5, 1, 3, 10, 11, 250, 0.01, 0.01];

  it('records what one observe() per value records: buckets, sum and count', async () => {
    const one = await rendered((h) => values.forEach((v) => h.observe(v)));
    const all = await rendered((h) => observeAll(h, values));
    expect(all).toBe(one);
    expect(all).toContain('latency_seconds_count 14');
  });

  it('takes only the first n values, and adds to what is already there', async () => {
    const one = await rendered((h) => {
      h.observe(5);
      values.slice(0, 4).forEach((v) => h.observe(v));
    });
    const all = await rendered((h) => {
      h.observe(5);
      observeAll(h, Float64Array.from(values), 4);
    });
    expect(all).toBe(one);
  });

  it('records into the series of the labels given, creating it if need be, beside the others', async () => {
    const one = await rendered((h) => {
      h.observe({ persona_id: 'a', kind: 'x' }, 2);
      values.forEach((v) => h.observe({ persona_id: 'b', kind: 'x' }, v));
      values.slice(3).forEach((v) => h.observe({ kind: 'x', persona_id: 'a' }, v));
    }, ['persona_id', 'kind']);
    const all = await rendered((h) => {
      h.observe({ persona_id: 'a', kind: 'x' }, 2);
      observeAll(h, values, values.length, { persona_id: 'b', kind: 'x' });
      observeAll(h, values.slice(3), values.length - 3, { kind: 'x', persona_id: 'a' });
    }, ['persona_id', 'kind']);
    expect(all).toBe(one);
    expect(all).toContain('latency_seconds_count{persona_id="b",kind="x"} 14');
  });

  it('refuses labels the histogram does not have, as observe() does', async () => {
    await rendered((h) => expect(() => observeAll(h, [1], 1, { nope: 'x' })).toThrow(), ['persona_id']);
  });

  it('refuses a value that is not a number, as observe() does', async () => {
    await rendered((h) => expect(() => observeAll(h, [1, NaN])).toThrow(TypeError));
  });
});
