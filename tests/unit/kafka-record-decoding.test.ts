import { rng } from './anomaly/synthetic';
import { decodeRecord } from '../../src/kafka/record-decoding';

/* eslint-disable @typescript-eslint/no-var-requires */
const Decoder = require('kafkajs/src/protocol/decoder');
const Record = require('kafkajs/src/protocol/recordBatch/record/v0');
const kafkajsDecodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/decoder');

/** What a record decoder makes of a record's bytes (as kafkajs's batch decoder hands them over): its record, or its error. */
function outcome(decode: (d: unknown, ctx: unknown) => unknown, recordBytes: Buffer, ctx: unknown): unknown {
  try {
    return { record: decode(new Decoder(recordBytes), ctx) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function contexts(r: () => number) {
  const first = r() < 0.1 ? '9007199254740990' : String(Math.floor(r() * 1e12));
  return {
    firstOffset: first,
    firstTimestamp: r() < 0.05 ? '-1' : r() < 0.05 ? '9223372036854775000' : String(1_764_000_000_000 + Math.floor(r() * 1e9)),
    magicByte: 2,
    isControlBatch: r() < 0.1,
    timestampType: r() < 0.1 ? 1 : 0,
    maxTimestamp: String(1_764_000_000_000 + Math.floor(r() * 1e9)),
    partitionLeaderEpoch: 0,
  };
}

describe('record decoding without Long', () => {
  it('decodes every record as kafkajs does, and fails as it does on malformed bytes', () => {
    let fast = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const r = rng(seed);
      for (let i = 0; i < 200; i++) {
        const headers: Record<string, string | string[]> = {};
        if (r() < 0.2) headers['dlq.reason'] = 'x';
        if (r() < 0.05) headers.multi = ['a', 'b'];
        const encoded: Buffer = Record({
          offsetDelta: Math.floor(r() * (r() < 0.1 ? 2 ** 30 : 5000)),
          timestampDelta: Math.floor((r() - 0.3) * (r() < 0.1 ? 2 ** 45 : 1e6)),
          key: r() < 0.2 ? null : Buffer.from(`persona-${i}`),
          value: r() < 0.05 ? null : Buffer.alloc(Math.floor(r() * 400), i),
          headers,
        }).buffer;
        const recordBytes: Buffer = new Decoder(encoded).readVarIntBytes();
        const mutated = Buffer.from(recordBytes);
        const how = r();
        let bytes = mutated;
        if (how < 0.15) mutated[Math.floor(r() * mutated.length)] = Math.floor(r() * 256);
        else if (how < 0.25) bytes = mutated.subarray(0, Math.floor(r() * mutated.length));
        const ctx = contexts(r);
        const ours = outcome(decodeRecord as never, bytes, ctx);
        expect(ours).toEqual(outcome(kafkajsDecodeRecord, bytes, ctx));
        if ('record' in (ours as object)) fast++;
      }
    }
    expect(fast).toBeGreaterThan(5000);
  });
});
