import { decimalSetting, durationSetting, enumSetting, intSetting, Overrides, setting, SettingName, usdSetting } from '../../src/config';
import { Decimal } from './exact';

/** Thresholds of one detector that grades severity: crossing `threshold` is medium, then high, then critical. */
export interface Graded {
  threshold: Decimal;
  high: Decimal;
  critical: Decimal;
}

export interface AnomalySettings {
  windowMs: number;
  allowedLatenessMs: number;
  maxClockSkewMs: number;
  baselineWindows: number;
  minBaselineWindows: number;
  minBaselineNano: bigint;
  minSpendNano: bigint;
  spike: Graded;
  efficiencyBasis: 'engagements' | 'follows';
  /** Drop percentages (30 means 30 %). */
  efficiency: Graded;
  minBaselineActions: number;
  outcomeHorizonMs: number;
  cohortMs: number;
  baselineCohorts: number;
  minBaselineCohorts: number;
  cohortMinPosts: number;
  cohortMinActions: number;
  /** ROI percentages, negative (−50 means −50 %). */
  roi: Graded;
  /** Budget use percentages. */
  budget: Graded;
  postTargetNano: bigint;
  /** Multiples of the post target. */
  post: Graded;
  postIdleMs: number;
  personaIdleMs: number;
  maxPosts: number;
  maxTriggeringIds: number;
  recentIdsPerPartition: number;
  seasonal: boolean;
  seasonalWeeks: number;
  seasonalMinWeeks: number;
  seasonalSpreadZ: number;
  forecastMarginPercent: number;
  forecastMinMinutes: number;
  forecastHalfLifeMinutes: number;
}

function graded(overrides: Overrides, names: [SettingName, SettingName, SettingName]): Graded {
  const [threshold, high, critical] = names.map((n) => decimalSetting(n, overrides));
  return { threshold, high, critical };
}

export function anomalySettings(overrides: Overrides = {}): AnomalySettings {
  const baselineWindows = intSetting('ANOMALY_BASELINE_WINDOWS', overrides, { min: 1, max: 10_000 });
  const baselineCohorts = intSetting('ANOMALY_BASELINE_COHORTS', overrides, { min: 1, max: 1000 });
  return {
    windowMs: intSetting('ANOMALY_WINDOW_MS', overrides, { min: 100 }),
    allowedLatenessMs: intSetting('ANOMALY_ALLOWED_LATENESS_MS', overrides),
    maxClockSkewMs: intSetting('ANOMALY_MAX_CLOCK_SKEW_MS', overrides),
    baselineWindows,
    minBaselineWindows: intSetting('ANOMALY_MIN_BASELINE_WINDOWS', overrides, { min: 1, max: baselineWindows }),
    minBaselineNano: usdSetting('ANOMALY_MIN_BASELINE_USD', overrides),
    minSpendNano: usdSetting('ANOMALY_MIN_SPEND_USD', overrides),
    spike: graded(overrides, ['ANOMALY_SPIKE_MULTIPLIER', 'ANOMALY_SPIKE_HIGH_MULTIPLIER', 'ANOMALY_SPIKE_CRITICAL_MULTIPLIER']),
    efficiencyBasis: enumSetting('ANOMALY_EFFICIENCY_BASIS', ['engagements', 'follows'] as const, overrides),
    efficiency: graded(overrides, ['ANOMALY_EFFICIENCY_DROP_PERCENT', 'ANOMALY_EFFICIENCY_HIGH_DROP_PERCENT', 'ANOMALY_EFFICIENCY_CRITICAL_DROP_PERCENT']),
    minBaselineActions: intSetting('ANOMALY_MIN_BASELINE_ACTIONS', overrides),
    outcomeHorizonMs: intSetting('ANOMALY_OUTCOME_HORIZON_MS', overrides),
    cohortMs: intSetting('ANOMALY_COHORT_MS', overrides, { min: 100 }),
    baselineCohorts,
    minBaselineCohorts: intSetting('ANOMALY_MIN_BASELINE_COHORTS', overrides, { min: 1, max: baselineCohorts }),
    cohortMinPosts: intSetting('ANOMALY_COHORT_MIN_POSTS', overrides, { min: 1 }),
    cohortMinActions: intSetting('ANOMALY_COHORT_MIN_ACTIONS', overrides, { min: 1 }),
    roi: graded(overrides, ['ANOMALY_ROI_PERCENT', 'ANOMALY_ROI_HIGH_PERCENT', 'ANOMALY_ROI_CRITICAL_PERCENT']),
    budget: graded(overrides, ['ANOMALY_BUDGET_PERCENT', 'ANOMALY_BUDGET_HIGH_PERCENT', 'ANOMALY_BUDGET_CRITICAL_PERCENT']),
    postTargetNano: usdSetting('ANOMALY_POST_TARGET_USD', overrides),
    post: graded(overrides, ['ANOMALY_POST_MULTIPLIER', 'ANOMALY_POST_HIGH_MULTIPLIER', 'ANOMALY_POST_CRITICAL_MULTIPLIER']),
    postIdleMs: intSetting('ANOMALY_POST_IDLE_MS', overrides, { min: 1 }),
    personaIdleMs: intSetting('ANOMALY_PERSONA_IDLE_MS', overrides, { min: 1 }),
    maxPosts: intSetting('ANOMALY_MAX_POSTS', overrides, { min: 1 }),
    maxTriggeringIds: intSetting('ANOMALY_MAX_TRIGGERING_IDS', overrides, { min: 1, max: 1000 }),
    recentIdsPerPartition: intSetting('ANOMALY_RECENT_IDS_PER_PARTITION', overrides, { min: 2, max: 50_000_000 }),
    seasonal: enumSetting('ANOMALY_SEASONAL', ['on', 'off'] as const, overrides) === 'on',
    seasonalWeeks: intSetting('ANOMALY_SEASONAL_WEEKS', overrides, { min: 1, max: 12 }),
    seasonalMinWeeks: intSetting('ANOMALY_SEASONAL_MIN_WEEKS', overrides, { min: 1, max: 12 }),
    seasonalSpreadZ: intSetting('ANOMALY_SEASONAL_SPREAD_Z', overrides, { min: 0, max: 100 }),
    forecastMarginPercent: intSetting('ANOMALY_FORECAST_MARGIN_PERCENT', overrides, { min: 0, max: 1000 }),
    forecastMinMinutes: intSetting('ANOMALY_FORECAST_MIN_MINUTES', overrides, { min: 1, max: 100_000 }),
    forecastHalfLifeMinutes: intSetting('ANOMALY_FORECAST_HALF_LIFE_MINUTES', overrides, { min: 1, max: 100_000 }),
  };
}

/** How the anomaly role runs (group, timers, fetch sizes), apart from what it detects. */
export interface AnomalyRoleSettings {
  groupId: string;
  tickMs: number;
  checkpointIntervalMs: number;
  referenceRefreshMs: number;
  fetchMaxBytes: number;
  fetchMaxBytesPerPartition: number;
}

export function anomalyRoleSettings(overrides: Overrides = {}): AnomalyRoleSettings {
  return {
    groupId: setting('ANOMALY_GROUP_ID', overrides),
    tickMs: durationSetting('ANOMALY_TICK_MS', 'ms', overrides, { min: 10 }),
    checkpointIntervalMs: durationSetting('ANOMALY_CHECKPOINT_INTERVAL_MS', 'ms', overrides, { min: 100 }),
    referenceRefreshMs: durationSetting('ANOMALY_REFERENCE_REFRESH_MS', 'ms', overrides, { min: 100 }),
    fetchMaxBytes: intSetting('ANOMALY_FETCH_MAX_BYTES', overrides, { min: 65_536 }),
    fetchMaxBytesPerPartition: intSetting('ANOMALY_FETCH_MAX_BYTES_PER_PARTITION', overrides, { min: 16_384 }),
  };
}
