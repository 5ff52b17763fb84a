import { durationSetting, intSetting, jsonSetting, listSetting, numberSetting, Overrides, setting } from '../../src/config';
import { SEVERITIES, Severity } from '../../src/contracts/anomaly';
import { ConfigError } from '../../src/errors';
import { CHANNELS, ChannelName } from '../../src/notify/notification';
import { BreakerConfig, MAX_TRACKED_ANOMALIES } from './state-machine';

const isRpmTable = (v: unknown) => typeof v === 'object' && v !== null && SEVERITIES.every((s) => Number.isInteger((v as Record<string, unknown>)[s]) && ((v as Record<string, number>)[s]) > 0);
const isModelMap = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((m) => typeof m === 'string');

/** The breaker's thresholds and timings: explicit → environment → default (src/config/defaults.ts). */
export function breakerSettings(overrides: Overrides = {}, env: NodeJS.ProcessEnv = process.env): BreakerConfig {
  return {
    spikeMultiplier: numberSetting('BREAKER_SPIKE_MULTIPLIER', overrides, { min: 1 }, env),
    budgetPercent: numberSetting('BREAKER_BUDGET_PERCENT', overrides, { min: 0 }, env),
    budgetPausePercent: numberSetting('BREAKER_BUDGET_PAUSE_PERCENT', overrides, { min: 0 }, env),
    roiPercent: numberSetting('BREAKER_ROI_PERCENT', overrides, {}, env),
    throttleRpm: jsonSetting<Record<Severity, number>>('BREAKER_THROTTLE_RPM', overrides, isRpmTable, env),
    modelMap: jsonSetting<Record<string, string>>('BREAKER_MODEL_MAP', overrides, isModelMap, env),
    pauseMs: durationSetting('BREAKER_PAUSE_SECONDS', 's', overrides, {}, env),
    escalateMinIntervalMs: durationSetting('BREAKER_ESCALATE_MIN_INTERVAL_MS', 'ms', overrides, {}, env),
    cooldownMs: durationSetting('BREAKER_COOLDOWN_SECONDS', 's', overrides, {}, env),
    probeMs: durationSetting('BREAKER_PROBE_SECONDS', 's', overrides, {}, env),
    probeRpm: intSetting('BREAKER_PROBE_RPM', overrides, { min: 1 }, env),
    controlTtlMs: durationSetting('BREAKER_CONTROL_TTL_SECONDS', 's', overrides, {}, env),
    maxTrackedAnomalies: MAX_TRACKED_ANOMALIES,
  };
}

/** The breaker as the defaults alone configure it (no environment), e.g. for tests. */
export const defaultBreakerConfig: BreakerConfig = breakerSettings({}, {});

export interface BreakerRoleSettings {
  groupId: string;
  tickMs: number;
  /** Channels paged when a persona reaches the `page` level (the channels themselves: BREAKER_PAGE_* in src/notify/settings.ts). */
  pageChannels: ChannelName[];
}

export function breakerRoleSettings(overrides: Overrides = {}): BreakerRoleSettings {
  return {
    groupId: setting('BREAKER_GROUP_ID', overrides),
    tickMs: durationSetting('BREAKER_TICK_MS', 'ms', overrides, { min: 10 }),
    pageChannels: pageChannels(overrides),
  };
}

/** BREAKER_PAGE_CHANNELS: the channels a page goes to. */
export function pageChannels(overrides: Overrides = {}): ChannelName[] {
  const list = listSetting('BREAKER_PAGE_CHANNELS', overrides);
  const unknown = list.filter((c) => !(CHANNELS as readonly string[]).includes(c));
  if (unknown.length) throw new ConfigError(`BREAKER_PAGE_CHANNELS has unknown channel(s) ${unknown.join(', ')}; use a comma-separated list of ${CHANNELS.join(', ')}`);
  return list as ChannelName[];
}
