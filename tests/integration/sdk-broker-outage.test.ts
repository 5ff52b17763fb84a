import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { CostTracker, TrackedCost } from '../../producers';
import { AvroCodec, avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { setting } from '../../src/config';
import { CostEvent } from '../../src/events';
import { DeliveryTimeoutError } from '../../src/errors';
import { PrivateKafka } from '../../testkit/private-kafka';
import { uniqueId } from '../../testkit/fixtures';
import { waitFor } from '../../testkit/wait-for';

/**
 * A private broker goes away mid-stream while one SDK instance publishes at a steady rate: frozen
 * for 5 s (SIGSTOP, which the client sees as a network partition: open connections, no answers),
 * or SIGKILLed and started again after 30 s and after 120 s (it then takes several seconds more to
 * serve; the test prints how long it was down). The same instance must publish again by itself; every
 * call either resolved or was rejected with a typed DeliveryTimeoutError; what is in the topic,
 * deduplicated by event id, is exactly the resolved calls (including rejected calls retried with
 * their id) with exact sums. Rejected calls the SDK never handed to the broker, and not retried,
 * are absent. Duplicates in the topic (a resend under a new producer id) are counted and printed:
 * storage dedups them by event id; each must be the same bytes as the first copy.
 */
const RATE_PER_TICK = 10; // every 20 ms → 500 calls/s
const DELIVERY_TIMEOUT_MS = 10_000;

interface Call {
  units: number;
  startedAt: number;
  outcome?: { ok: true; tracked: TrackedCost } | { ok: false; err: unknown };
}

describe('the SDK survives a broker outage', () => {
  const broker = new PrivateKafka();
  let admin: Kafka;
  const codec = new AvroCodec(setting('SCHEMA_REGISTRY_URL'));
  const reader = avroType(loadSchema('cost-event'));

  beforeAll(async () => {
    await broker.start();
    admin = new Kafka({ clientId: 'outage-test', brokers: [broker.brokers], logLevel: logLevel.NOTHING });
  });
  afterAll(() => broker.destroy());

  async function readTopic(topic: string): Promise<Map<string, Buffer[]>> {
    const a = admin.admin();
    await a.connect();
    const offsets = await a.fetchTopicOffsets(topic);
    await a.disconnect();
    const total = offsets.reduce((n, o) => n + Number(o.high), 0);
    const byId = new Map<string, Buffer[]>();
    let seen = 0;
    const consumer = admin.consumer({ groupId: uniqueId(`${topic}.reader`) });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const { value } = await codec.decode<CostEvent>(message.value, reader);
        const copies = byId.get(value.event_id) ?? [];
        copies.push(message.value!);
        byId.set(value.event_id, copies);
        seen++;
      },
    });
    await waitFor(() => seen >= total, { timeoutMs: 60_000, what: `${total} messages read back` });
    await consumer.disconnect();
    return byId;
  }

  const outages = [
    { outageMs: 5_000, how: 'frozen' as const },
    { outageMs: 30_000, how: 'killed' as const },
    { outageMs: 120_000, how: 'killed' as const },
  ];
  for (const { outageMs, how } of outages) {
    const what = how === 'frozen' ? `a broker frozen for ${outageMs / 1000} s` : `a ${outageMs / 1000} s outage`;
    it(`publishes again by itself after ${what}; the topic holds exactly the resolved calls once by id`, async () => {
      const id = uniqueId('outage');
      const topic = `test.${id}.cost-events`;
      const a = admin.admin();
      await a.connect();
      await a.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }, { topic: `test.${id}.post-outcomes`, numPartitions: 1 }] });
      await a.disconnect();
      const tracker = new CostTracker({
        overrides: {
          KAFKA_BROKERS: broker.brokers,
          KAFKA_CLIENT_ID: `test-${id}`,
          TOPIC_COST_EVENTS: topic,
          TOPIC_POST_OUTCOMES: `test.${id}.post-outcomes`,
          SDK_DELIVERY_TIMEOUT_MS: String(DELIVERY_TIMEOUT_MS),
          SDK_MAX_BUFFERED_EVENTS: '1000',
          SDK_MAX_BATCH_EVENTS: '500',
          SDK_LINGER_MS: '20',
        },
      });
      await tracker.start();

      const calls = new Map<string, Call>();
      const track = (eventId: string, call: Call) =>
        tracker.trackVectorDbCost({ personaId: `${id}-p${call.units % 7}`, eventId, vectorOperation: 'query', units: call.units, operation: 'outage' });
      let units = 0;
      const publisher = setInterval(() => {
        for (let i = 0; i < RATE_PER_TICK; i++) {
          const eventId = randomUUID();
          const call: Call = { units: ++units, startedAt: Date.now() };
          calls.set(eventId, call);
          track(eventId, call).then((tracked) => (call.outcome = { ok: true, tracked }), (err) => (call.outcome = { ok: false, err }));
        }
      }, 20);

      try {
        await new Promise((r) => setTimeout(r, 3000));
        if (how === 'frozen') broker.pause();
        else await broker.stop('SIGKILL');
        const downAt = Date.now();
        await new Promise((r) => setTimeout(r, outageMs));
        if (how === 'frozen') broker.resume();
        else await broker.start();
        const upAt = Date.now();
        // The same instance publishes again: a call made after the broker is back resolves.
        const resumedAt = await waitFor(
          () => {
            for (const c of calls.values()) if (c.startedAt > upAt && c.outcome?.ok) return Date.now();
            return undefined;
          },
          { timeoutMs: 60_000, intervalMs: 200, what: 'a call made after the restart to resolve' },
        );
        await new Promise((r) => setTimeout(r, 3000));
        clearInterval(publisher);
        await tracker.flush();
        await waitFor(() => [...calls.values()].every((c) => c.outcome), { timeoutMs: 30_000, what: 'every call settled' });

        const all = [...calls.entries()];
        const rejected = all.filter(([, c]) => !c.outcome!.ok);
        const maybeStored = (c: Call) => Boolean(((c.outcome as { err: { maybeStored?: boolean } }).err).maybeStored);
        const unsent = rejected.filter(([, c]) => !maybeStored(c));
        const before = await readTopic(topic);
        const summary = {
          outage_s: outageMs / 1000, how, calls: all.length, rejected: rejected.length, rejected_maybe_stored: rejected.length - unsent.length,
          rejected_unsent_but_in_topic: unsent.filter(([eventId]) => before.has(eventId)).length,
          resolved_missing_from_topic: all.filter(([eventId, c]) => c.outcome!.ok && !before.has(eventId)).length,
          rejected_after_resume: all.filter(([, c]) => c.startedAt > resumedAt && !c.outcome!.ok).length,
          errors: [...new Set(rejected.map(([, c]) => String((c.outcome as { err: Error }).err?.message).slice(0, 120)))].slice(0, 3),
          resumed_after_restart_ms: resumedAt - upAt, down_ms: upAt - downAt,
        };
        console.log(JSON.stringify(summary));
        // Calls made once publishing had resumed all resolved; every resolved call is in the topic;
        // no call the SDK rejected as never sent is in it.
        expect(summary.rejected_after_resume).toBe(0);
        expect(summary.resolved_missing_from_topic).toBe(0);
        expect(summary.rejected_unsent_but_in_topic).toBe(0);
        if (summary.down_ms < DELIVERY_TIMEOUT_MS * 0.75) {
          // Well within the delivery timeout: callers waited on the bounded buffer, and every call resolved.
          expect(rejected.length).toBe(0);
        } else {
          // Longer than the delivery timeout: callers waited, then got the typed error.
          expect(rejected.length).toBeGreaterThan(0);
        }
        for (const [, c] of rejected) expect((c.outcome as { err: unknown }).err).toBeInstanceOf(DeliveryTimeoutError);
        for (const [, c] of rejected) expect(c.startedAt).toBeLessThan(resumedAt);

        // Retry with the same id: every rejected call that may have been stored, and 1,000 of those
        // never handed to the broker; the rest are left alone.
        const notRetried = new Set(unsent.slice(1000).map(([eventId]) => eventId));
        const retried = rejected.filter(([eventId]) => !notRetried.has(eventId));
        const retriedResults = await Promise.all(retried.map(([eventId, c]) => track(eventId, c)));
        retried.forEach(([, c], i) => (c.outcome = { ok: true, tracked: retriedResults[i] }));
        await tracker.close();

        const resolved = all.filter(([, c]) => c.outcome!.ok);
        expect(resolved.length + notRetried.size).toBe(all.length);
        const inTopic = await readTopic(topic);
        const duplicates = [...inTopic.values()].reduce((n, copies) => n + copies.length - 1, 0);
        // A copy the SDK resent itself is the same bytes; a caller's retry is the same event id and
        // content with the retry's own event time (storage keeps the first).
        const retriedIds = new Set(retried.map(([eventId]) => eventId));
        let sdkResends = 0;
        for (const [eventId, copies] of inTopic) {
          if (copies.length === 1) continue;
          if (retriedIds.has(eventId)) {
            const [first, ...rest] = await Promise.all(copies.map(async (c) => ({ ...(await codec.decode<CostEvent>(c, reader)).value, event_time: null })));
            for (const other of rest) expect(other).toEqual(first);
          } else {
            sdkResends += copies.length - 1;
            for (const copy of copies) expect(copy.equals(copies[0])).toBe(true);
          }
        }
        // Exactly the resolved calls, once each after dedup by id, and none of the unsent rejected ones.
        expect(new Set(inTopic.keys())).toEqual(new Set(resolved.map(([eventId]) => eventId)));
        for (const eventId of notRetried) expect(inTopic.has(eventId)).toBe(false);
        const expectedNano = resolved.reduce((sum, [, c]) => sum + (c.outcome as { tracked: TrackedCost }).tracked.nanoUsd, 0n);
        let storedNano = 0n;
        for (const copies of inTopic.values()) storedNano += (await codec.decode<CostEvent>(copies[0], reader)).value.amount;
        expect(storedNano).toBe(expectedNano);
        expect(expectedNano).toBe(BigInt(resolved.reduce((n, [, c]) => n + c.units, 0)) * 4000n); // $0.000004 a unit

        console.log(JSON.stringify({
          ...summary, errors: undefined, resolved_first_time: resolved.length - retried.length, retried: retried.length,
          left_unretried: notRetried.size, in_topic_distinct: inTopic.size, topic_duplicates: duplicates, duplicates_from_sdk_resends: sdkResends,
        }));
      } finally {
        clearInterval(publisher);
        await Promise.race([tracker.close().catch(() => undefined), new Promise((r) => setTimeout(r, 15_000))]);
      }
    }, outageMs + 300_000);
  }
});
