import { backoffDelay, retry } from '../../src/retry';
import { DependencyError, InvalidInputError } from '../../src/errors';
import { intSetting, jsonSetting, setting } from '../../src/config';
import { ConfigError } from '../../src/errors';

describe('retry', () => {
  it('retries retriable errors until success', async () => {
    let calls = 0;
    const result = await retry(async () => {
      if (++calls < 3) throw new DependencyError('postgres', 'connection reset');
      return 'ok';
    }, { initialDelayMs: 1, maxDelayMs: 2 });
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('never retries bad input or programmer errors', async () => {
    for (const err of [new InvalidInputError('x', 'bad'), new TypeError('bug'), new RangeError('bug')]) {
      let calls = 0;
      await expect(retry(async () => {
        calls++;
        throw err;
      }, { initialDelayMs: 1 })).rejects.toBe(err);
      expect(calls).toBe(1);
    }
  });

  it('gives up after the configured retries', async () => {
    let calls = 0;
    await expect(retry(async () => {
      calls++;
      throw new DependencyError('kafka', 'down');
    }, { retries: 2, initialDelayMs: 1 })).rejects.toThrow('kafka: down');
    expect(calls).toBe(3);
  });

  it('honours a delay the error asks for', async () => {
    const delays: number[] = [];
    let calls = 0;
    await retry(async () => {
      if (++calls < 2) throw new DependencyError('slack', '429');
      return 1;
    }, { initialDelayMs: 1000, delayFromError: () => 5, onRetry: (_e, _a, d) => delays.push(d) });
    expect(delays).toEqual([5]);
  });

  it('backs off exponentially within jitter bounds, capped', () => {
    const opts = { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0.2 };
    expect(backoffDelay(0, opts, () => 0.5)).toBe(100);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(800);
    expect(backoffDelay(10, opts, () => 1)).toBe(1200);
    expect(backoffDelay(2, opts, () => 0)).toBe(320);
  });
});

describe('config', () => {
  it('resolves explicit → environment → default', () => {
    expect(setting('KAFKA_CLIENT_ID', { KAFKA_CLIENT_ID: 'explicit' }, { KAFKA_CLIENT_ID: 'env' })).toBe('explicit');
    expect(setting('KAFKA_CLIENT_ID', {}, { KAFKA_CLIENT_ID: 'env' })).toBe('env');
    expect(setting('KAFKA_CLIENT_ID', {}, {})).toBe('finops-pipeline');
  });

  it('says how to fix an invalid value', () => {
    expect(() => intSetting('STORAGE_BATCH_MAX_EVENTS', { STORAGE_BATCH_MAX_EVENTS: 'lots' }, { min: 1 })).toThrow(ConfigError);
    expect(() => intSetting('STORAGE_BATCH_MAX_EVENTS', { STORAGE_BATCH_MAX_EVENTS: 'lots' }, { min: 1 })).toThrow(/set STORAGE_BATCH_MAX_EVENTS to a whole number/);
    expect(() => jsonSetting('PRICING_MODEL_OVERRIDES', { PRICING_MODEL_OVERRIDES: '{nope' })).toThrow(/not valid JSON/);
  });
});
