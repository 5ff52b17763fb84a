import { Partitioners, PartitionMetadata } from 'kafkajs';
import { cachedDefaultPartitioner } from '../../producers/batching-producer';

const metadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0, offlineReplicas: [] }));

describe("the SDK's cached partitioner", () => {
  it('picks the same partition as the default murmur2 partitioner, also after the partition count changes', () => {
    const cached = cachedDefaultPartitioner();
    const reference = Partitioners.DefaultPartitioner();
    const keys = Array.from({ length: 2000 }, (_, i) => Buffer.from(`persona-${i}-ünï`));
    for (const n of [1, 3, 6, 12, 6]) {
      for (const key of keys) {
        for (let repeat = 0; repeat < 2; repeat++) {
          const args = { topic: 't', partitionMetadata: metadata(n), message: { key, value: null } };
          expect(cached(args)).toBe(reference(args));
        }
      }
    }
  });

  it('keeps an explicit partition', () => {
    const cached = cachedDefaultPartitioner();
    const key = Buffer.from('k');
    expect(cached({ topic: 't', partitionMetadata: metadata(6), message: { key, value: null, partition: 4 } })).toBe(4);
  });
});
