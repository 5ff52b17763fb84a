import { intSetting, jsonSetting, listSetting, Overrides, setting } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { SEVERITIES, Severity } from '../../src/contracts/anomaly';
import { CHANNELS, ChannelName } from '../../src/notify/notification';
import { BreakerConfig, defaultBreakerConfig } from './state-machine';

function num(name: Parameters<typeof setting>[0], overrides: Overrides): number {
  const v = Number(setting(name, overrides));
  if (!Number.isFinite(v)) throw new ConfigError(`${name} must be a number`);
  return v;
}

export function breakerConfig(overrides: Overrides = {}): BreakerConfig {
  const rpm = jsonSetting<Record<string, number>>('BREAKER_THROTTLE_RPM', overrides);
  for (const s of SEVERITIES) {
    if (!(Number.isInteger(rpm[s]) && rpm[s] > 0)) throw new ConfigError(`BREAKER_THROTTLE_RPM needs a positive whole number for ${s}`);
  }
  const modelMap = jsonSetting<Record<string, string>>('BREAKER_MODEL_MAP', overrides);
  if (typeof modelMap !== 'object' || modelMap === null || Object.values(modelMap).some((v) => typeof v !== 'string')) {
    throw new ConfigError('BREAKER_MODEL_MAP must be a JSON object of model → substitute model');
  }
  return {
    ...defaultBreakerConfig,
    spikeMultiplier: num('BREAKER_SPIKE_MULTIPLIER', overrides),
    budgetPercent: num('BREAKER_BUDGET_PERCENT', overrides),
    roiPercent: num('BREAKER_ROI_PERCENT', overrides),
    throttleRpm: rpm as Record<Severity, number>,
    modelMap,
    pauseMs: num('BREAKER_PAUSE_SECONDS', overrides) * 1000,
    escalateMinIntervalMs: intSetting('BREAKER_ESCALATE_MIN_INTERVAL_MS', overrides),
    cooldownMs: num('BREAKER_COOLDOWN_SECONDS', overrides) * 1000,
    probeMs: num('BREAKER_PROBE_SECONDS', overrides) * 1000,
    probeRpm: intSetting('BREAKER_PROBE_RPM', overrides, { min: 1 }),
    controlTtlMs: num('BREAKER_CONTROL_TTL_SECONDS', overrides) * 1000,
  };
}

/** BREAKER_PAGE_CHANNELS: the channels a page goes to (the channels themselves: BREAKER_PAGE_* in src/notify/settings.ts). */
export function pageChannels(overrides: Overrides = {}): ChannelName[] {
  const list = listSetting('BREAKER_PAGE_CHANNELS', overrides);
  const unknown = list.filter((c) => !(CHANNELS as readonly string[]).includes(c));
  if (unknown.length) throw new ConfigError(`BREAKER_PAGE_CHANNELS has unknown channel(s) ${unknown.join(', ')}; use a comma-separated list of ${CHANNELS.join(', ')}`);
  return list as ChannelName[];
}
