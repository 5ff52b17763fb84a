import { randomUUID } from 'node:crypto';
import { CostEvent } from '../../src/events';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { trackerFor } from '../../testkit/in-process';
import { waitFor } from '../../testkit/wait-for';
import { AnomalyCollector, startAnomaly } from './anomaly-support';
import { dailyCycle } from '../unit/anomaly/synthetic';

/**
 * Compressed series through Kafka with their own event times, into the real anomaly consumer:
 * two weeks of a daily cycle in seconds, and a day's ramp. The engine windows and budgets by
 * event time, so history replays at the speed the consumer reads it.
 */
const MINUTE = 60_000;

function event(persona: string, t: number, nano: bigint, model: string, operation: string, metadata: Record<string, string> = {}, post: string | null = null): CostEvent {
  return {
    event_id: randomUUID(), event_time: new Date(t), cost_type: 'openai_api', amount: nano, currency: 'USD', persona_id: persona, post_id: post, operation, service: 'writer',
    correlation_id: null, request_id: null, llm_usage: { provider: 'openai', model, input_tokens: 1, output_tokens: 1, cached_input_tokens: 0 }, compute_usage: null,
    vector_db_usage: null, price: { source: 'test', version: '1', status: 'priced', unit_prices: {} }, metadata,
  };
}

async function pipeline(prefix: string, extra: Record<string, string>) {
  const env = await createTestEnv(prefix);
  await startAnomaly(env, { ANOMALY_WINDOW_MS: '60000', ANOMALY_ALLOWED_LATENESS_MS: '5000', ANOMALY_BASELINE_WINDOWS: '60', ANOMALY_MIN_BASELINE_WINDOWS: '5', ...extra });
  return { env, collector: await new AnomalyCollector(env).start(), tracker: trackerFor(env) };
}

describe('compressed series through Kafka', () => {
  const envs: TestEnv[] = [];
  afterAll(async () => {
    for (const e of envs) await e.close();
  });

  it('two weeks with a ×4 daily cycle: 0 false cost_spike alarms with seasonal baselines on vs the count off; the 3× peak spike detected, its root cause the model', async () => {
    const peak = Date.UTC(2026, 0, 18, 14, 0);
    const series = dailyCycle(14, 42).filter((x) => x.t < peak + MINUTE);
    const counts: Record<string, number> = {};
    for (const seasonal of ['on', 'off'] as const) {
      const started = Date.now();
      const { env, collector, tracker } = await pipeline(`season${seasonal}`, { ANOMALY_SEASONAL: seasonal });
      envs.push(env);
      const persona = `${env.id}-cyclic`;
      for (const x of series) void tracker.publishEvent(event(persona, x.t, x.nano, 'gpt-4o-mini', 'reply'));
      const spikeEvent = event(persona, peak + 30_000, 450_000_000n, 'gpt-4o', 'hook_generation', {}, 'post-77');
      void tracker.publishEvent(spikeEvent);
      await tracker.flush();
      const spike = await waitFor(() => collector.forPersona(persona).find((a) => a.anomaly_type === 'cost_spike' && a.triggering_event_ids.includes(spikeEvent.event_id)), {
        what: `the peak spike (seasonal ${seasonal})`, timeoutMs: 150_000,
      });
      const falseAlarms = collector.forPersona(persona).filter((a) => a.anomaly_type === 'cost_spike' && a.status === 'open' && a.anomaly_id !== spike.anomaly_id);
      counts[seasonal] = falseAlarms.length;
      process.stderr.write(`seasonal ${seasonal}: ${series.length + 1} events in ${((Date.now() - started) / 1000).toFixed(1)} s, cost_spike false alarms ${falseAlarms.length}; peak spike ${spike.multiplier?.toFixed(2)}× (${spike.details.baseline_kind}), root causes ${JSON.stringify(spike.root_causes)}\n`);
      expect(spike.root_causes![0]).toMatchObject({ model: 'gpt-4o', operation: 'hook_generation', post_id: 'post-77' });
    }
    process.stderr.write(`cost_spike false alarms over two weeks through Kafka: seasonal on ${counts.on}, seasonal off ${counts.off}\n`);
    expect(counts.on).toBe(0);
    expect(counts.off).toBeGreaterThan(0);
  });

  it('a linear ramp that will exhaust the daily budget of a tag: budget_forecast before 80 % is spent, exhaustion within 10 % of the truth', async () => {
    const { env, collector, tracker } = await pipeline('ramp', {});
    envs.push(env);
    const tag = `campaign=${env.id}`;
    await env.pool.query(`INSERT INTO scoped_budgets (scope_kind, scope_value, period, limit_usd, thresholds) VALUES ('tag', $1, 'daily', 100, '[{"percent":"80","severity":"medium"},{"percent":"100","severity":"critical"}]')`, [tag]);
    env.cleanup(() => env.pool.query('DELETE FROM scoped_budgets WHERE scope_value = $1', [tag]).then(() => undefined));
    await new Promise((r) => setTimeout(r, 800)); // the consumer re-reads budgets every 300 ms here
    const day = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()) - 86_400_000; // yesterday
    const a = 100 / ((840 * 841) / 2); // USD per minute per minute: $100 spent by 14:00
    const truth = day + 840 * MINUTE;
    const sent: { id: string; t: number; spent: number }[] = [];
    let spent = 0;
    for (let m = 0; m < 780; m++) {
      const usd = a * (m + 1);
      spent += usd;
      const e = event(`${env.id}-ramp`, day + m * MINUTE + 30_000, BigInt(Math.round(usd * 1e9)), 'gpt-4o', 'reply', { campaign: env.id });
      sent.push({ id: e.event_id, t: e.event_time.getTime(), spent });
      void tracker.publishEvent(e);
    }
    await tracker.flush();
    const subject = `scope:tag:${tag}`;
    const f = await waitFor(() => collector.forPersona(subject).find((x) => x.anomaly_type === 'budget_forecast'), { what: 'budget_forecast', timeoutMs: 30_000 });
    const at = sent.find((s) => s.id === f.triggering_event_ids[0])!;
    const err = Math.abs(Date.parse(f.details.exhaustion_at) - truth) / (truth - at.t);
    process.stderr.write(`ramp: budget_forecast at event time ${new Date(at.t).toISOString()} with ${at.spent.toFixed(2)} % of $100 spent; projected exhaustion ${f.details.exhaustion_at}, truth ${new Date(truth).toISOString()}, error ${(err * 100).toFixed(2)} % of the time left\n`);
    expect(at.spent).toBeLessThan(80);
    expect(err).toBeLessThan(0.1);
    await waitFor(() => collector.forPersona(subject).find((x) => x.anomaly_type === 'budget_threshold' && x.details.threshold_percent === '80'), { what: 'the 80 % notice', timeoutMs: 30_000 });
  });
});
