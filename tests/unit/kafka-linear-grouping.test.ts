import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { groupMessagesPerPartition } from '../../src/kafka/linear-grouping';
// Jest's module registry is its own, so this is kafkajs's original grouping.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const original = require('kafkajs/src/producer/groupMessagesPerPartition') as typeof groupMessagesPerPartition;

const ROOT = path.resolve(__dirname, '../..');

describe("kafkajs's grouping of a send by partition", () => {
  it('groups exactly as kafkajs does: the same partitions, each in send order', () => {
    const partitionMetadata = Array.from({ length: 12 }, (_, i) => ({ partitionId: i }));
    const messages = Array.from({ length: 5000 }, (_, i) => ({ key: `persona-${(i * 7919) % 997}`, value: String(i) }));
    const partitioner = ({ message }: { message: { key: string } }) => message.key.length * 31 % 12;
    expect(groupMessagesPerPartition({ topic: 't', partitionMetadata, messages, partitioner })).toEqual(original({ topic: 't', partitionMetadata, messages, partitioner }));
    expect(groupMessagesPerPartition({ topic: 't', partitionMetadata: [], messages, partitioner })).toEqual({});
  });

  it('is the grouping kafkajs uses in a process that loads the pipeline\'s Kafka client', () => {
    const script = `
      require('./src/kafka/client');
      const { linearGroupingInstalled, groupMessagesPerPartition } = require('./src/kafka/linear-grouping');
      const used = require('kafkajs/src/producer/groupMessagesPerPartition');
      process.stdout.write(JSON.stringify({ installed: linearGroupingInstalled(), same: used === groupMessagesPerPartition }));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ installed: true, same: true });
  });
});
