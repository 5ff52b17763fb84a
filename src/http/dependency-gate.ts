import { intSetting, Overrides } from '../config';
import { DependencyError } from '../errors';
import type { Logger } from '../logging';
import { retry } from '../retry';
import { ReadinessCheck, runChecks } from './ops-server';

/**
 * Waits until every dependency check passes, retrying with capped exponential backoff
 * (STARTUP_RETRY_INITIAL_MS … STARTUP_RETRY_MAX_MS) and logging each retry with what is missing.
 * Never gives up: a role started before Postgres, Kafka or the registry waits for them, unready.
 */
export async function waitForDependencies(checks: ReadonlyMap<string, ReadinessCheck>, log: Logger, overrides: Overrides = {}, opts: { isStopping?: () => boolean } = {}): Promise<void> {
  if (checks.size === 0) return;
  const initialDelayMs = intSetting('STARTUP_RETRY_INITIAL_MS', overrides, { min: 1 });
  const maxDelayMs = intSetting('STARTUP_RETRY_MAX_MS', overrides, { min: initialDelayMs });
  let missing: Record<string, string> = {};
  await retry(
    async () => {
      if (opts.isStopping?.()) return;
      const results = await runChecks(checks);
      missing = Object.fromEntries(Object.entries(results).filter(([, r]) => r !== 'ok'));
      if (Object.keys(missing).length) throw new DependencyError(Object.keys(missing).join(', '), 'not available yet');
    },
    {
      retries: Number.POSITIVE_INFINITY,
      initialDelayMs,
      maxDelayMs,
      jitter: 0.2,
      shouldRetry: () => true,
      onRetry: (_err, attempt, delayMs) => log.warn({ missing, attempt, retryInMs: delayMs }, `waiting for ${Object.keys(missing).join(', ')}`),
    },
  );
}
