import {
  boolSetting, decimalSetting, durationSetting, enumSetting, intSetting, jsonSetting, listSetting, numberSetting, setting, usdSetting,
} from '../../src/config';
import { ConfigError } from '../../src/errors';
import { breakerSettings, defaultBreakerConfig } from '../../consumers/breaker/settings';
import { storageSettings } from '../../consumers/storage/settings';
import { alertSettings } from '../../consumers/alerts/settings';
import { anomalyRoleSettings } from '../../consumers/anomaly/settings';
import { apiSettings } from '../../api/settings';
import { costGuardSettings, trackerSettings } from '../../producers/settings';

describe('settings resolve explicit → environment → default', () => {
  it('takes the explicit value over the environment, and the environment over the default', () => {
    const env = { BREAKER_PAUSE_SECONDS: '120' };
    expect(durationSetting('BREAKER_PAUSE_SECONDS', 's', { BREAKER_PAUSE_SECONDS: 60 }, {}, env)).toBe(60_000);
    expect(durationSetting('BREAKER_PAUSE_SECONDS', 's', {}, {}, env)).toBe(120_000);
    expect(durationSetting('BREAKER_PAUSE_SECONDS', 's', {}, {}, {})).toBe(3_600_000);
    expect(setting('BREAKER_GROUP_ID', {}, { BREAKER_GROUP_ID: '' })).toBe('finops-breaker'); // empty env is unset
  });

  it('says in the error which value it was, where it came from, and how to fix it', () => {
    expect(() => durationSetting('BREAKER_PAUSE_SECONDS', 's', {}, {}, { BREAKER_PAUSE_SECONDS: '1h' })).toThrow(new ConfigError('BREAKER_PAUSE_SECONDS="1h" is not a duration in whole seconds of at least 0; set BREAKER_PAUSE_SECONDS to a whole number of seconds (default 3600) (this value came from the environment)'));
    expect(() => intSetting('STORAGE_FLUSH_CONCURRENCY', { STORAGE_FLUSH_CONCURRENCY: 40 }, { min: 1, max: 16 })).toThrow(new ConfigError('STORAGE_FLUSH_CONCURRENCY="40" is not an integer in [1, 16]; set STORAGE_FLUSH_CONCURRENCY to a whole number in that range (default 2) (this value was given explicitly)'));
  });
});

describe('value parsers', () => {
  it('usd: exact nano-dollars; refuses text, more than 9 decimals, and (when positive) zero', () => {
    expect(usdSetting('ANOMALY_MIN_SPEND_USD', { ANOMALY_MIN_SPEND_USD: '0.000000001' })).toBe(1n);
    expect(usdSetting('ANOMALY_MIN_SPEND_USD', {}, {}, {})).toBe(50_000_000n);
    expect(() => usdSetting('ANOMALY_MIN_SPEND_USD', { ANOMALY_MIN_SPEND_USD: '$5' })).toThrow(/ANOMALY_MIN_SPEND_USD="\$5" is not a USD amount with at most 9 decimals; set ANOMALY_MIN_SPEND_USD to an amount in US dollars \(default 0.05\) \(this value was given explicitly\)/);
    expect(() => usdSetting('ANOMALY_MIN_SPEND_USD', { ANOMALY_MIN_SPEND_USD: '0.0000000001' })).toThrow(ConfigError);
    expect(() => usdSetting('API_TARGET_COST_PER_POST_USD', { API_TARGET_COST_PER_POST_USD: '0' }, { positive: true })).toThrow(/is not a positive USD amount/);
  });

  it('decimal: exact, never through floating point', () => {
    expect(decimalSetting('ANOMALY_SPIKE_MULTIPLIER', { ANOMALY_SPIKE_MULTIPLIER: '3.5' })).toEqual({ units: 35n, scale: 1 });
    expect(decimalSetting('ANOMALY_ROI_PERCENT', {}, {})).toEqual({ units: -50n, scale: 0 });
    expect(() => decimalSetting('ANOMALY_SPIKE_MULTIPLIER', { ANOMALY_SPIKE_MULTIPLIER: 'three' })).toThrow(/is not a decimal number; set ANOMALY_SPIKE_MULTIPLIER to a decimal number such as 3 or 3.5 \(default 3\)/);
  });

  it('number: finite and within bounds', () => {
    expect(numberSetting('BREAKER_ROI_PERCENT', { BREAKER_ROI_PERCENT: '-60.5' })).toBe(-60.5);
    for (const bad of ['', 'NaN', 'Infinity', '1e999', 'x']) expect(() => numberSetting('BREAKER_ROI_PERCENT', { BREAKER_ROI_PERCENT: bad })).toThrow(/BREAKER_ROI_PERCENT=.* is not a number/);
    expect(() => numberSetting('BREAKER_SPIKE_MULTIPLIER', { BREAKER_SPIKE_MULTIPLIER: '0.5' }, { min: 1 })).toThrow(/is not a number of at least 1/);
  });

  it('duration: whole units within bounds, in milliseconds', () => {
    expect(durationSetting('ANOMALY_TICK_MS', 'ms', { ANOMALY_TICK_MS: '250' }, { min: 10 })).toBe(250);
    for (const bad of ['', '2.5', '-1', '5s']) expect(() => durationSetting('ANOMALY_TICK_MS', 'ms', { ANOMALY_TICK_MS: bad }, { min: 10 })).toThrow(/is not a duration in whole milliseconds of at least 10/);
    expect(() => durationSetting('ANOMALY_TICK_MS', 'ms', { ANOMALY_TICK_MS: '5' }, { min: 10 })).toThrow(ConfigError);
    expect(() => durationSetting('BREAKER_PAUSE_SECONDS', 's', { BREAKER_PAUSE_SECONDS: '1.5' })).toThrow(/is not a duration in whole seconds/);
  });

  it('enum, list, bool and JSON', () => {
    expect(enumSetting('GUARD_REDIS_FAILURE_POLICY', ['open', 'closed'] as const, { GUARD_REDIS_FAILURE_POLICY: 'closed' })).toBe('closed');
    expect(() => enumSetting('GUARD_REDIS_FAILURE_POLICY', ['open', 'closed'] as const, { GUARD_REDIS_FAILURE_POLICY: 'shut' })).toThrow(new ConfigError('GUARD_REDIS_FAILURE_POLICY="shut" is not one of open, closed; set GUARD_REDIS_FAILURE_POLICY to one of them (this value was given explicitly)'));
    expect(listSetting('BREAKER_PAGE_CHANNELS', { BREAKER_PAGE_CHANNELS: ' slack, ,email ' })).toEqual(['slack', 'email']);
    expect(() => listSetting('BREAKER_PAGE_CHANNELS', { BREAKER_PAGE_CHANNELS: 'slack,sms' }, ['slack', 'email', 'pagerduty'])).toThrow(/is not a comma-separated list of slack, email, pagerduty/);
    expect(boolSetting('FINOPS_SETUP_ON_RUN', { FINOPS_SETUP_ON_RUN: 'YES' })).toBe(true);
    expect(() => boolSetting('FINOPS_SETUP_ON_RUN', { FINOPS_SETUP_ON_RUN: 'maybe' })).toThrow(/is not a boolean; set FINOPS_SETUP_ON_RUN to true or false/);
    expect(jsonSetting('BREAKER_MODEL_MAP', {}, undefined, {})).toEqual({ 'gpt-4o': 'gpt-3.5-turbo-0125', 'gpt-4': 'gpt-3.5-turbo-0125' });
    expect(() => jsonSetting('BREAKER_MODEL_MAP', { BREAKER_MODEL_MAP: '{nope' })).toThrow(/is not valid JSON/);
  });
});

describe('each area reads its settings through settings.ts', () => {
  it('the breaker: defaults come from src/config/defaults.ts alone', () => {
    expect(defaultBreakerConfig).toMatchObject({
      spikeMultiplier: 3, budgetPercent: 90, roiPercent: -60, throttleRpm: { critical: 10, high: 20, medium: 35, low: 50 },
      pauseMs: 3_600_000, escalateMinIntervalMs: 10_000, cooldownMs: 900_000, probeMs: 300_000, probeRpm: 50, controlTtlMs: 7_200_000,
    });
    expect(() => breakerSettings({ BREAKER_THROTTLE_RPM: '{"critical":10}' })).toThrow(/BREAKER_THROTTLE_RPM=.* is not valid JSON of the expected shape/);
    expect(() => breakerSettings({ BREAKER_MODEL_MAP: '{"gpt-4o":4}' })).toThrow(/BREAKER_MODEL_MAP/);
  });

  it('the alerts: defaults from src/config/defaults.ts, refused values name the fix', () => {
    expect(alertSettings({}, {})).toMatchObject({
      groupId: 'finops-alerts', groupIntervalMs: 300_000, coalesceMs: 3000, tickMs: 200, maxInFlight: 500,
      routing: { rules: [], bySeverity: { critical: ['slack', 'pagerduty', 'email'], high: ['slack', 'pagerduty'], medium: ['slack'], low: ['email'] } },
    });
    expect(alertSettings({}, { ALERT_ESCALATION_COALESCE_MS: '0' }).coalesceMs).toBe(0);
    expect(() => alertSettings({ ALERT_ESCALATION_COALESCE_MS: '3s' })).toThrow(/ALERT_ESCALATION_COALESCE_MS="3s" is not a duration in whole milliseconds.*set ALERT_ESCALATION_COALESCE_MS to a whole number of milliseconds \(default 3000\)/);
    expect(() => alertSettings({ ALERT_TICK_MS: 1 })).toThrow(/ALERT_TICK_MS="1" is not a duration in whole milliseconds of at least 10/);
    expect(() => alertSettings({ ALERT_ROUTES: '{"match":{}}' })).toThrow(/ALERT_ROUTES must be a JSON array/);
    expect(() => alertSettings({ ALERT_SEVERITY_ROUTING: '{"critical":["sms"]}' })).toThrow(/ALERT_SEVERITY_ROUTING.critical: channels must be a list of slack, pagerduty, email/);
  });

  it('storage, anomaly, API and SDK settings parse with their bounds', () => {
    expect(storageSettings({ STORAGE_MAX_PAST_AGE_DAYS: 56 }).partitions.monthsBack).toBe(2);
    expect(() => storageSettings({ STORAGE_BATCH_MAX_WAIT_MS: 'soon' })).toThrow(/STORAGE_BATCH_MAX_WAIT_MS="soon"/);
    expect(anomalyRoleSettings({ ANOMALY_TICK_MS: 50 }).tickMs).toBe(50);
    expect(() => apiSettings({ API_HEADERS_TIMEOUT_MS: 20_000, API_REQUEST_TIMEOUT_MS: 10_000, API_READ_TOKENS: 'a-long-enough-token' })).toThrow(/API_HEADERS_TIMEOUT_MS \(20000\) must not exceed API_REQUEST_TIMEOUT_MS \(10000\)/);
    expect(() => apiSettings({ API_TARGET_COST_PER_POST_USD: '-1', API_READ_TOKENS: 'a-long-enough-token' })).toThrow(/API_TARGET_COST_PER_POST_USD="-1" is not a positive USD amount/);
    expect(costGuardSettings({ GUARD_MAX_WAIT_MS: 10 }).maxWaitMs).toBe(10);
    expect(() => trackerSettings({ SDK_COMPRESSION: 'brotli' })).toThrow(/SDK_COMPRESSION="brotli" is not one of none, gzip, snappy, lz4, zstd/);
  });
});
