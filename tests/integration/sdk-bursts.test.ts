import { CostTracker } from '../../producers';
import { topics } from '../../src/config';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';

/**
 * Callers that publish in bursts (a `Promise.all` over thousands of calls, then the next) against
 * the real broker: every burst resolves, none waits for its delivery deadline. A burst issued while
 * the send loop was finishing used to find its kick ignored and sit until SDK_DELIVERY_TIMEOUT_MS.
 */
const BURST = 20_000;
const BURSTS = 8;
const DELIVERY_TIMEOUT_MS = 30_000;

describe('the SDK under bursts of calls', () => {
  let env: TestEnv;
  let tracker: CostTracker;

  beforeAll(async () => {
    env = await createTestEnv('sdkbursts');
    tracker = new CostTracker({ overrides: { ...env.overrides, SDK_DELIVERY_TIMEOUT_MS: String(DELIVERY_TIMEOUT_MS) } });
    await tracker.start();
  });
  afterAll(async () => {
    await tracker.close();
    await env.close();
  });

  it('sends each burst of several batches as it comes, one burst after another', async () => {
    const durations: number[] = [];
    for (let b = 0; b < BURSTS; b++) {
      const started = Date.now();
      await Promise.all(Array.from({ length: BURST }, (_, i) =>
        tracker.trackVectorDbCost({ personaId: `${env.id}-p${i % 50}`, vectorOperation: 'query', units: 1 + (i % 9), operation: 'burst' })));
      durations.push(Date.now() - started);
    }
    // A stalled burst takes the whole delivery deadline; a sent one a few seconds at most here.
    expect(Math.max(...durations)).toBeLessThan(DELIVERY_TIMEOUT_MS / 2);
    const admin = env.kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topics(env.overrides).costEvents);
    await admin.disconnect();
    expect(offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0)).toBe(BURST * BURSTS);
  }, 4 * 60_000);
});
