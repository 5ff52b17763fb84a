// Preloaded (node --require) into a role process by tests/integration/kafka-unreadable-batch.test.ts:
// pins kafkajs's zstd codec to one whose decompress always throws, so that no codec the process
// registers later can read a zstd batch. Models a batch the consumer cannot read at all.
const { CompressionCodecs, CompressionTypes } = require('kafkajs');

const faulty = {
  async compress() {
    throw new Error('injected fault: this process does not write zstd');
  },
  async decompress() {
    throw new Error('injected fault: zstd decompress failed');
  },
};
Object.defineProperty(CompressionCodecs, CompressionTypes.ZSTD, { get: () => () => faulty, set: () => undefined, configurable: false });
