import { registry } from '../../src/metrics';
import { CostMetricsRecorder, LabelLimiter } from '../../src/metrics/business';
import { consumerGroupsOf } from '../../src/metrics/lag-collector';

async function sample(name: string, labels: Record<string, string> = {}, series = name): Promise<number | undefined> {
  const m = registry.getSingleMetric(name);
  if (!m) return undefined;
  const { values } = await m.get();
  const hit = values.find((v) => ((v as { metricName?: string }).metricName ?? name) === series && Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return hit?.value;
}

describe('business metrics from committed batches', () => {
  let now = 1_000_000;
  const rec = new CostMetricsRecorder({ METRICS_POST_SETTLE_MS: '1000', METRICS_MAX_OPEN_POSTS: '3', METRICS_MAX_LABEL_VALUES: '5' }, () => now);

  it('adds committed deltas once per event type, with the vector operation as a label', async () => {
    rec.record({
      posts: [{ post_id: 'p1', persona_id: 'ua', amount_nano: 10_000_000n }],
      deltas: [
        { persona_id: 'ua', cost_type: 'openai_api', model: 'gpt-4o', amount_usd: '0.007500000', events: 1, operation: null },
        { persona_id: 'ua', cost_type: 'kubernetes', model: '', amount_usd: '0.002000000', events: 2, operation: null },
        { persona_id: 'ua', cost_type: 'vector_db', model: '', amount_usd: '0.000500000', events: 1, operation: 'query' },
      ],
    });
    // A redelivered batch inserts nothing and so carries no deltas: counters do not move.
    rec.record({ posts: [], deltas: [] });
    expect(await sample('openai_api_costs_usd_total', { model: 'gpt-4o', persona_id: 'ua' })).toBeCloseTo(0.0075, 12);
    expect(await sample('kubernetes_resource_costs_usd_total', { persona_id: 'ua' })).toBeCloseTo(0.002, 12);
    expect(await sample('vector_db_operation_costs_usd_total', { operation: 'query', persona_id: 'ua' })).toBeCloseTo(0.0005, 12);
    expect(await sample('finops_cost_events_total', { cost_type: 'kubernetes', persona_id: 'ua' })).toBe(2);
    expect(await sample('finops_cost_per_post_threshold_breaches_total', { persona_id: 'ua' })).toBe(0);
  });

  it('counts a breach once when a post crosses the line, and observes each post once when it settles', async () => {
    // Batches carry what they added to a post; its running total (0.01 + 0.04 + 0.01) crosses 0.04 once.
    rec.record({ posts: [{ post_id: 'p1', persona_id: 'ua', amount_nano: 40_000_000n }], deltas: [] });
    rec.record({ posts: [{ post_id: 'p1', persona_id: 'ua', amount_nano: 10_000_000n }], deltas: [] });
    expect(await sample('finops_cost_per_post_threshold_breaches_total', { persona_id: 'ua' })).toBe(1);
    expect(await sample('finops_cost_per_post_usd', { persona_id: 'ua' }, 'finops_cost_per_post_usd_count')).toBeUndefined();
    now += 1500;
    rec.settle();
    expect(await sample('finops_cost_per_post_usd', { persona_id: 'ua' }, 'finops_cost_per_post_usd_count')).toBe(1);
    expect(await sample('finops_cost_per_post_usd', { persona_id: 'ua' }, 'finops_cost_per_post_usd_sum')).toBeCloseTo(0.06, 12);
    rec.settle();
    expect(await sample('finops_cost_per_post_usd', { persona_id: 'ua' }, 'finops_cost_per_post_usd_count')).toBe(1);
  });

  it('keeps open posts bounded by observing the oldest', async () => {
    for (let i = 0; i < 5; i++) rec.record({ posts: [{ post_id: `b${i}`, persona_id: 'ub', amount_nano: 1_000_000n }], deltas: [] });
    expect(await sample('finops_cost_per_post_open_posts')).toBe(3);
  });

  it('caps distinct label values', () => {
    const l = new LabelLimiter(2);
    expect([l.value('a'), l.value('b'), l.value('c'), l.value('a'), l.value('')]).toEqual(['a', 'b', '_other', 'a', '_other']);
  });

  it('finds the consumer group of each role from its settings', () => {
    expect(consumerGroupsOf(['storage'], { STORAGE_GROUP_ID: 'g1', LAG_COLLECTOR_GROUPS: 'x, y' }).sort()).toEqual(['g1', 'x', 'y']);
    expect(consumerGroupsOf(['no-such-role'], {})).toEqual([]);
  });
});
