import { anomalyNotification } from '../../consumers/alerts/templates';
import { slackBody } from '../../src/notify/templates';
import { AnomalyInput, BreakerConfig, step } from '../../consumers/breaker/state-machine';
import { defaultBreakerConfig } from '../../consumers/breaker/settings';
import { CostAnomaly, rootCauseLine } from '../../src/contracts/anomaly';

const cfg: BreakerConfig = { ...defaultBreakerConfig, escalateMinIntervalMs: 10_000 };

const budget = (id: string, percent: string, control: string | undefined, severity: AnomalyInput['severity'] = 'high'): AnomalyInput => ({
  anomaly_id: id, sequence: 1, status: 'open', anomaly_type: 'budget_threshold', severity, observed: String(Number(percent) / 10), baseline: '10', unit: 'usd', multiplier: Number(percent) / 100,
  details: { threshold_percent: percent, ...(control ? { control } : {}) },
});

describe('the breaker acts per the level a scoped budget threshold configures', () => {
  it('throttles at the 90 % threshold and pauses at 100 % at once (no stepping), and never steps down', () => {
    const subject = 'scope:team:growth';
    let r = step(null, subject, { kind: 'anomaly', anomaly: budget('t90', '90', 'throttle'), now: 1000 }, cfg);
    expect(r.transition).toMatchObject({ from_level: 'normal', to_level: 'throttle', cause: 'trigger' });
    expect(r.transition!.control.persona_id).toBe(subject);
    r = step(r.state, subject, { kind: 'anomaly', anomaly: budget('t100', '100', 'pause', 'critical'), now: 1500 }, cfg);
    expect(r.transition).toMatchObject({ from_level: 'throttle', to_level: 'pause', cause: 'escalate' });
    expect(r.transition!.control.paused_until).not.toBeNull();
    r = step(r.state, subject, { kind: 'anomaly', anomaly: budget('t95', '95', 'throttle'), now: 2000 }, cfg);
    expect(r.transition).toBeNull();
    expect(r.state.level).toBe('pause');
  });

  it('a threshold that configures no control and is not critical only notifies', () => {
    const r = step(null, 'scope:model:gpt-4o', { kind: 'anomaly', anomaly: budget('t50', '50', undefined, 'low'), now: 1000 }, cfg);
    expect(r.transition).toBeNull();
  });
});

describe('root causes in alerts', () => {
  const causes = [
    { model: 'gpt-4o', operation: 'hook_generation', service: null, post_id: 'p9', excess_usd: '0.410000000', share_percent: 83.2 },
    { model: 'gpt-4o-mini', operation: 'reply', service: 'writer', post_id: null, excess_usd: '0.083000000', share_percent: 16.8 },
  ];
  it('one line, largest first', () => {
    expect(rootCauseLine(causes)).toBe('gpt-4o hook_generation (post p9): +$0.41 (83 %); gpt-4o-mini reply writer: +$0.08 (17 %)');
    expect(rootCauseLine([])).toBe('');
  });
  it('a notice carries them and the budget scope', () => {
    const a: CostAnomaly = {
      anomaly_id: 'x', sequence: 1, status: 'open', anomaly_type: 'cost_spike', severity: 'high', persona_id: 'p', post_id: null, detected_at: new Date(0),
      window_start: new Date(0), window_end: new Date(0), observed: '0.5', baseline: '0.1', threshold: '3', unit: 'usd', multiplier: 5, triggering_event_ids: [],
      trigger_published_at: null, message: '', details: {}, root_causes: causes, scope_kind: 'team', scope_value: 'growth',
    };
    const text = slackBody(anomalyNotification(a)).text as string;
    expect(text).toContain('Root causes: gpt-4o hook_generation (post p9): +$0.41 (83 %)');
    expect(text).toContain('Budget scope: team growth');
  });
});
