import type { Kafka, ProducerBatch } from 'kafkajs';
import { BatchingProducer } from '../../producers/batching-producer';

/** A Kafka whose producers acknowledge every batch on the next turn of the event loop, recording what they were sent. */
function acknowledgingKafka(sent: number[]): Kafka {
  return {
    producer: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      sendBatch: async (batch: ProducerBatch) => {
        await new Promise((resolve) => setImmediate(resolve));
        sent.push(batch.topicMessages!.reduce((n, t) => n + t.messages.length, 0));
        return [];
      },
    }),
  } as unknown as Kafka;
}

const OPTIONS = { lingerMs: 5, maxBatchEvents: 100, maxBufferedEvents: 1000, compression: 'none' as const, deliveryTimeoutMs: 60_000 };

describe("the SDK's batching producer", () => {
  let producer: BatchingProducer | undefined;
  afterEach(async () => {
    await producer?.close();
    producer = undefined;
  });

  const burst = (p: BatchingProducer, from: number, n: number) =>
    Promise.all(Array.from({ length: n }, (_, i) => p.send('t', { key: 'k', value: `v${from + i}` }, `id-${from + i}`, from + i)));

  it('sends a burst that starts as soon as the previous burst was acknowledged', async () => {
    const sent: number[] = [];
    producer = new BatchingProducer(acknowledgingKafka(sent), OPTIONS);
    await producer.connect();
    // The second burst is issued in the same turn as the first one's last acknowledgement, while
    // the send loop is still finishing: it fills whole batches, so no linger timer is left to send it.
    await burst(producer, 0, 2000);
    const second = burst(producer, 2000, 500);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([second.then(() => 'acknowledged'), new Promise((r) => (timer = setTimeout(() => r('stalled'), 2000)))]);
    clearTimeout(timer);
    expect(outcome).toBe('acknowledged');
    expect(sent.reduce((a, b) => a + b, 0)).toBe(2500);
  });

});
