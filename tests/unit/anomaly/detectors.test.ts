import { BudgetDetector } from '../../../consumers/anomaly/detectors/budget-detector';
import { EfficiencyDetector } from '../../../consumers/anomaly/detectors/efficiency-detector';
import { PostCostDetector } from '../../../consumers/anomaly/detectors/post-cost-detector';
import { RoiDetector } from '../../../consumers/anomaly/detectors/roi-detector';
import { SpikeDetector } from '../../../consumers/anomaly/detectors/spike-detector';
import { anomalySettings } from '../../../consumers/anomaly/settings';
import { usdToNano } from '../../../src/money';

const s = anomalySettings({});
const usd = (v: string) => usdToNano(v);
const sev = (f: { severity: string } | null) => f?.severity ?? null;

describe('SpikeDetector (3× medium, 3.5× high, 5× critical; min baseline $0.01, min spend $0.05, 5 windows)', () => {
  const d = new SpikeDetector({ spike: s.spike, minBaselineNano: s.minBaselineNano, minSpendNano: s.minSpendNano, minBaselineWindows: s.minBaselineWindows });
  const at = (spend: string, baseline = '1', windows = 5) => sev(d.evaluate({ spend: usd(spend), baseline: usd(baseline), baselineWindows: windows }));

  it.each([
    ['2.999999999', null],
    ['3', 'medium'],
    ['3.000000001', 'medium'],
    ['3.499999999', 'medium'],
    ['3.5', 'high'],
    ['3.500000001', 'high'],
    ['4.999999999', 'high'],
    ['5', 'critical'],
    ['5.000000001', 'critical'],
  ])('spend %s against a $1 baseline → %s', (spend, expected) => {
    expect(at(spend)).toBe(expected);
  });

  it('needs the minimum baseline, the minimum spend and enough baseline windows', () => {
    expect(at('0.05', '0.009999999')).toBeNull();
    expect(at('0.05', '0.01')).toBe('critical');
    expect(at('0.049999999', '0.01')).toBeNull();
    expect(at('0.050000001', '0.01')).toBe('critical');
    expect(at('10', '1', 4)).toBeNull();
    expect(at('10', '1', 6)).toBe('critical');
    expect(d.evaluate({ spend: usd('10'), baseline: null, baselineWindows: 0 })).toBeNull();
  });

  it('reports observed, baseline, threshold and multiplier exactly', () => {
    const f = d.evaluate({ spend: usd('3.5'), baseline: usd('1'), baselineWindows: 7 })!;
    expect(f).toMatchObject({ type: 'cost_spike', observed: '3.500000000', baseline: '1.000000000', threshold: '3', unit: 'usd', multiplier: 3.5 });
  });
});

describe('EfficiencyDetector (drop ≥ 30 % medium, 50 % high, 75 % critical; 5 posts, 10 actions, 3 cohorts by default)', () => {
  const d = new EfficiencyDetector({
    efficiency: s.efficiency, basis: 'engagements', minBaselineNano: s.minBaselineNano, minSpendNano: s.minSpendNano,
    minBaselineCohorts: s.minBaselineCohorts, minPosts: s.cohortMinPosts, minActions: s.cohortMinActions, minBaselineActions: s.minBaselineActions,
  });
  // Baseline: $10 for 1000 engagements ($0.01 each), so $1 should earn 100. The cohort's posts cost $1.
  const at = (actions: number, cost = '1', baselineActions = 1000, cohorts = 3, posts = 5, baselinePosts = 50) =>
    sev(d.evaluate({ cost: usd(cost), actions, posts, baselineCost: usd('10'), baselineActions, baselinePosts, baselineCohorts: cohorts }));

  it.each([
    [100, null], // as efficient as the baseline
    [71, null], // 29 % drop
    [70, 'medium'], // exactly 30 %
    [69, 'medium'],
    [51, 'medium'],
    [50, 'high'], // exactly 50 %
    [49, 'high'],
    [26, 'high'],
    [25, 'critical'], // exactly 75 %
    [24, 'critical'],
    [10, 'critical'],
    [9, null], // fewer actions than the minimum: no evidence
  ])('%i engagements for $1 → %s', (actions, expected) => {
    expect(at(actions)).toBe(expected);
  });

  it('needs minimum spend, posts and actions in the cohort and the baseline, and enough baseline cohorts', () => {
    expect(at(10, '1', 9)).toBeNull();
    expect(at(10, '1', 1000)).toBe('critical');
    expect(at(10, '1', 1000, 2)).toBeNull();
    expect(at(10, '1', 1000, 3, 4)).toBeNull();
    expect(at(10, '1', 1000, 3, 5, 4)).toBeNull();
  });

  it('reports cost per engagement against the baseline', () => {
    const f = d.evaluate({ cost: usd('1'), actions: 50, posts: 5, baselineCost: usd('10'), baselineActions: 1000, baselinePosts: 50, baselineCohorts: 5 })!;
    expect(f).toMatchObject({ observed: '0.020000000', baseline: '0.010000000', unit: 'usd_per_engagement', multiplier: 2 });
    expect(f.details.drop_percent).toBe('50');
  });
});

describe('RoiDetector (ROI ≤ −50 % medium, −75 % high, −90 % critical)', () => {
  const d = new RoiDetector({ roi: s.roi, minSpendNano: s.minSpendNano, minPosts: s.cohortMinPosts, minBaselineCohorts: s.minBaselineCohorts });
  const at = (revenue: string, cost = '1', posts = 5, baselineCohorts = 3, baselinePosts = 15) =>
    sev(d.evaluate({ cost: usd(cost), revenue: usd(revenue), posts, baselinePosts, baselineCohorts }));

  it.each([
    ['0.500000001', null],
    ['0.5', 'medium'],
    ['0.499999999', 'medium'],
    ['0.250000001', 'medium'],
    ['0.25', 'high'],
    ['0.100000001', 'high'],
    ['0.1', 'critical'],
    ['0', 'critical'],
    ['2', null],
  ])('revenue %s for $1 → %s', (revenue, expected) => {
    expect(at(revenue)).toBe(expected);
  });

  it('judges only cohorts with enough posts reporting, after enough earlier cohorts (never a first window), spending the minimum', () => {
    expect(at('0', '1', 0)).toBeNull();
    expect(at('0', '1', 4)).toBeNull();
    expect(at('0', '1', 5, 2)).toBeNull();
    expect(at('0', '1', 5, 3, 4)).toBeNull();
    expect(at('0', '0.049999999')).toBeNull();
    expect(at('0', '0.05')).toBe('critical');
    expect(d.evaluate({ cost: usd('1'), revenue: usd('0.4'), posts: 5, baselinePosts: 15, baselineCohorts: 3 })).toMatchObject({ observed: '-60', threshold: '-50', unit: 'percent' });
  });
});

describe('BudgetDetector (use ≥ 80 % medium, 90 % high, 100 % critical)', () => {
  const d = new BudgetDetector(s.budget);
  const at = (spend: string) => sev(d.evaluate({ period: 'daily', spend: usd(spend), limit: usd('100') }));

  it.each([
    ['79.999999999', null],
    ['80', 'medium'],
    ['80.000000001', 'medium'],
    ['89.999999999', 'medium'],
    ['90', 'high'],
    ['99.999999999', 'high'],
    ['100', 'critical'],
    ['250', 'critical'],
  ])('spend %s of a $100 budget → %s', (spend, expected) => {
    expect(at(spend)).toBe(expected);
  });

  it('reports the threshold amount exactly', () => {
    expect(d.evaluate({ period: 'monthly', spend: usd('80'), limit: usd('100') })).toMatchObject({ threshold: '80.000000000', baseline: '100.000000000', observed: '80.000000000' });
  });
});

describe('PostCostDetector (more than 2× target medium, 4× high, 10× critical)', () => {
  const d = new PostCostDetector(s.post);
  const at = (cost: string, target = '0.02') => sev(d.evaluate({ postId: 'p', cost: usd(cost), target: usd(target) }));

  it.each([
    ['0.039999999', null],
    ['0.04', null], // "more than" 2×
    ['0.040000001', 'medium'],
    ['0.08', 'medium'],
    ['0.080000001', 'high'],
    ['0.2', 'high'],
    ['0.200000001', 'critical'],
  ])('a post costing %s against $0.02 → %s', (cost, expected) => {
    expect(at(cost)).toBe(expected);
  });

  it('uses the per-persona target it is given', () => {
    expect(at('0.1', '0.05')).toBeNull();
    expect(at('0.100000001', '0.05')).toBe('medium');
  });
});
