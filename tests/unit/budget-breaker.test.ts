import { avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { CostAnomaly } from '../../src/contracts/anomaly';
import { usdToNano } from '../../src/money';
import { BudgetDetector } from '../../consumers/anomaly/detectors/budget-detector';
import { report } from '../../consumers/anomaly/lifecycle';
import { anomalySettings } from '../../consumers/anomaly/settings';
import { breakerSettings } from '../../consumers/breaker/settings';
import { step } from '../../consumers/breaker/state-machine';

/**
 * The budget detector's real output, as the anomaly consumer publishes it (through the wire
 * schema), fed to the real circuit breaker: the budget levels configured on both sides decide.
 */
const T0 = Date.parse('2025-01-01T00:00:00Z');
const wire = avroType(loadSchema('cost-anomaly'));

function budgetAnomaly(usedPercent: string, overrides: Record<string, string> = {}): CostAnomaly {
  const detector = new BudgetDetector(anomalySettings(overrides).budget);
  const limit = usdToNano('50');
  const finding = detector.evaluate({ period: 'daily', spend: (limit * usdToNano(usedPercent)) / usdToNano('100'), limit });
  if (!finding) throw new Error(`no budget finding at ${usedPercent} %`);
  const { emitted } = report(undefined, {
    personaId: 'p1', slot: 'budget_threshold:daily', windowKey: T0, windowStart: T0, windowEnd: T0 + 86_400_000,
    postId: null, finding, triggeringIds: ['e1'], triggerPublishedAt: T0, now: T0,
  });
  return wire.fromBuffer(wire.toBuffer(emitted!)) as CostAnomaly;
}

function controlAfter(a: CostAnomaly, overrides: Record<string, string> = {}) {
  return step(null, a.persona_id, { kind: 'anomaly', anomaly: a, now: T0 }, breakerSettings(overrides)).transition?.control ?? null;
}

describe('budget anomalies through the circuit breaker (default levels: detect 80 %, throttle 90 %, pause 100 %)', () => {
  it('85 % is an anomaly but does not throttle', () => {
    const a = budgetAnomaly('85');
    expect(a).toMatchObject({ anomaly_type: 'budget_threshold', severity: 'medium', unit: 'usd' });
    expect(controlAfter(a)).toBeNull();
  });

  it.each(['90', '95', '99.9'])('%s % throttles', (pct) => {
    const control = controlAfter(budgetAnomaly(pct));
    expect(control).toMatchObject({ level: 'throttle', paused_until: null });
    expect(control!.requests_per_minute).toBeGreaterThan(0);
  });

  it('100 % pauses the persona at once', () => {
    const a = budgetAnomaly('100');
    expect(a.severity).toBe('critical');
    const control = controlAfter(a);
    expect(control).toMatchObject({ level: 'pause', paused_until: new Date(T0 + 3_600_000).toISOString() });
  });

  it('follows the configured levels', () => {
    const levels = { BREAKER_BUDGET_PERCENT: '85', BREAKER_BUDGET_PAUSE_PERCENT: '95' };
    expect(controlAfter(budgetAnomaly('84.9'), levels)).toBeNull();
    expect(controlAfter(budgetAnomaly('85'), levels)?.level).toBe('throttle');
    expect(controlAfter(budgetAnomaly('95'), levels)?.level).toBe('pause');
  });
});
