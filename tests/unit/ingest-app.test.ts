import { CostTracker } from '../../producers';
import { buildIngestApp, ingestSettings } from '../../ingest';
import type { CostPublisher } from '../../ingest/app';
import { DeliveryTimeoutError } from '../../src/errors';

/** POST /events over a publisher without Kafka: 202 only when nothing failed, else 503 with the ids. */
describe('POST /events answers by what Kafka acknowledged', () => {
  const TOKEN = 'unit-ingest-token-0001';
  const tracker = new CostTracker({ overrides: {} });
  let failures: unknown[] = [];
  const published: string[] = [];
  const publisher: CostPublisher = {
    completeCostEvent: (draft) => tracker.completeCostEvent(draft),
    publishBatch: async (events) => {
      published.push(...events.map((e) => e.event_id));
      return failures;
    },
  };
  const post = async (url: string, body: unknown) => {
    const res = await fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json(), retryAfter: res.headers.get('retry-after') ?? undefined };
  };
  const events = [
    { event_id: 'unit-a', persona_id: 'p1', cost_type: 'other', amount: '0.5' },
    { event_id: 'unit-b', persona_id: 'p1', cost_type: 'openai_api', llm_usage: { model: 'gpt-4o', input_tokens: 10, output_tokens: 5 } },
  ];

  it('202 with the ids when every event was acknowledged; 503 naming the deadline when one was not', async () => {
    const app = await buildIngestApp({ settings: ingestSettings({ API_INGEST_TOKENS: TOKEN, INGEST_RATE_LIMIT_MAX: '0', INGEST_DELIVERY_TIMEOUT_MS: '1500' }), publisher, redis: null });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      failures = [];
      expect(await post(url, events)).toEqual({ status: 202, body: { event_ids: ['unit-a', 'unit-b'], generated_event_ids: [] }, retryAfter: undefined });
      failures = [new DeliveryTimeoutError('unit-b', true, 1500)];
      const r = await post(url, events);
      expect(r.status).toBe(503);
      expect(r.retryAfter).toBe('5');
      expect(r.body).toEqual({ error: 'dependency_unavailable', message: expect.stringMatching(/^Kafka did not acknowledge 1 of 2 events within 1500 ms \(INGEST_DELIVERY_TIMEOUT_MS\)/), event_ids: ['unit-a', 'unit-b'] });
      expect(published).toEqual(['unit-a', 'unit-b', 'unit-a', 'unit-b']);
    } finally {
      await app.close();
    }
  });
});
