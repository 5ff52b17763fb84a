import './record-decoding';
import { kafkajsModulePath } from './kafkajs-module';

/**
 * kafkajs (2.2.4, its last release) groups a send's messages by partition with
 * `Object.assign(result, { [p]: [...current, message] })` for every message: quadratic in the
 * messages per partition, and garbage of the same order. At the SDK's 4,000-message sends that
 * copying cost about a fifth of its CPU per event (bench:sdk, one run: SDK 25.9 → 20.4 µs/event,
 * kafkajs alone 14.8 → 11.1). kafkajs has no plug-in point for it, so before kafkajs loads its
 * module is replaced by the same grouping done with push: same partitions, same order.
 *
 * Imported first by every module that loads kafkajs's producer (client.ts, codecs.ts, the SDK's
 * entry points, the CLI). Under a module system other than Node's (Jest's) it changes nothing.
 * It brings the produce request encoding's replacement along (direct-record-encoding.ts).
 */
import './direct-record-encoding';
interface GroupingInput<M> {
  topic: string;
  partitionMetadata: unknown[];
  messages: M[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: M }) => number;
}

export function groupMessagesPerPartition<M>({ topic, partitionMetadata, messages, partitioner }: GroupingInput<M>): Record<number, M[]> {
  if (partitionMetadata.length === 0) return {};
  const result: Record<number, M[]> = {};
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}

/** True once kafkajs's producer groups with groupMessagesPerPartition above. */
export function linearGroupingInstalled(): boolean {
  const grouping = kafkajsModulePath('producer/groupMessagesPerPartition');
  return grouping !== undefined && require.cache[grouping]?.exports === groupMessagesPerPartition;
}

function install(): void {
  const grouping = kafkajsModulePath('producer/groupMessagesPerPartition');
  const sendMessages = kafkajsModulePath('producer/sendMessages');
  // Too late once the producer's module holds the original (kafkajs was loaded first): leave it.
  if (!grouping || !sendMessages || !require.cache || require.cache[sendMessages]) return;
  require(grouping);
  const loaded = require.cache[grouping];
  if (loaded && typeof loaded.exports === 'function') loaded.exports = groupMessagesPerPartition;
}

install();
