import { backoffDelay, retry, sleep, withTimeout } from '../../src/retry';
import { DependencyError, InvalidInputError } from '../../src/errors';
import { intSetting, jsonSetting, setting } from '../../src/config';
import { ConfigError } from '../../src/errors';

describe('withTimeout', () => {
  it('settles as the promise does when it is in time', async () => {
    await expect(withTimeout(Promise.resolve('ok'), 1000)).resolves.toBe('ok');
    await expect(withTimeout(Promise.reject(new Error('own')), 1000)).rejects.toThrow('own');
  });

  it('rejects with the timeout when the promise is late', async () => {
    await expect(withTimeout(sleep(200), 10)).rejects.toThrow('timed out after 10 ms');
    await expect(withTimeout(sleep(200), 10, 'check took too long')).rejects.toThrow('check took too long');
  });
});

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

describe('database URL per role', () => {
  const { databaseUrl, isLocalEnvironment } = jest.requireActual('../../src/config') as typeof import('../../src/config');
  it('resolves explicit role URL → explicit DATABASE_URL → environment role URL → environment DATABASE_URL → local default', () => {
    const env = { STORAGE_DATABASE_URL: 'postgres://env-storage', DATABASE_URL: 'postgres://env-shared' };
    expect(databaseUrl('storage', { STORAGE_DATABASE_URL: 'postgres://x-storage', DATABASE_URL: 'postgres://x' }, env)).toBe('postgres://x-storage');
    expect(databaseUrl('storage', { DATABASE_URL: 'postgres://x' }, env)).toBe('postgres://x');
    expect(databaseUrl('storage', {}, env)).toBe('postgres://env-storage');
    expect(databaseUrl('api', {}, env)).toBe('postgres://env-shared');
    expect(databaseUrl('api', {}, {})).toBe('postgres://finops:finops@127.0.0.1:15432/finops');
  });

  it('refuses the built-in password outside the local stack, saying how to fix it', () => {
    expect(() => databaseUrl('api', {}, { FINOPS_ENVIRONMENT: 'production' })).toThrow(/API_DATABASE_URL is not set .*set API_DATABASE_URL \(or DATABASE_URL\)/);
    expect(() => databaseUrl('storage', {}, { KUBERNETES_SERVICE_HOST: '10.0.0.1' })).toThrow(ConfigError);
    expect(databaseUrl('storage', {}, { KUBERNETES_SERVICE_HOST: '10.0.0.1', STORAGE_DATABASE_URL: 'postgres://s' })).toBe('postgres://s');
    expect(isLocalEnvironment({}, { KUBERNETES_SERVICE_HOST: '10.0.0.1', FINOPS_ENVIRONMENT: 'local' })).toBe(true);
    expect(isLocalEnvironment({}, {})).toBe(true);
  });
});

describe('consumer group timings', () => {
  const { heartbeatIntervalFor, kafkaGroupTimings } = jest.requireActual('../../src/kafka/options') as typeof import('../../src/kafka/options');
  it('one heartbeat rule for every group: a tenth of the session timeout, at least 500 ms', () => {
    expect(heartbeatIntervalFor(30_000)).toBe(3000);
    expect(heartbeatIntervalFor(6000)).toBe(600);
    expect(kafkaGroupTimings({ KAFKA_SESSION_TIMEOUT_MS: '10000' })).toEqual({ sessionTimeout: 10_000, heartbeatInterval: 1000 });
    expect(() => kafkaGroupTimings({ KAFKA_SESSION_TIMEOUT_MS: '1000' })).toThrow(/KAFKA_SESSION_TIMEOUT_MS/);
  });
});
