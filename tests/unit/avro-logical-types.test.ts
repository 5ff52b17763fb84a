import { avroType } from '../../src/avro/codec';
import { AvroCodec } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';

const decimalSchema = { type: 'record', name: 'D', fields: [{ name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 20, scale: 9 } }] };

describe('Avro decimal and timestamp logical types', () => {
  const type = avroType(decimalSchema);

  it.each([0n, 1n, 127n, 128n, 255n, 256n, -1n, -128n, -129n, 99_999_999_999_999_999_999n, -99_999_999_999_999_999_999n])('round-trips %s as two-complement bytes', (value) => {
    expect(type.fromBuffer(type.toBuffer({ amount: value })).amount).toBe(value);
  });

  it('writes the minimal big-endian two-complement encoding the Avro spec requires', () => {
    // 128 needs a leading zero byte so it is not read as -128
    expect(type.toBuffer({ amount: 128n }).subarray(1)).toEqual(Buffer.from([0x00, 0x80]));
    expect(type.toBuffer({ amount: -1n }).subarray(1)).toEqual(Buffer.from([0xff]));
  });

  it('refuses values beyond the declared precision and non-BigInt values', () => {
    expect(() => type.toBuffer({ amount: 10n ** 20n })).toThrow(RangeError);
    expect(() => type.toBuffer({ amount: 1.5 })).toThrow(TypeError);
  });

  it('frames messages in the Confluent wire format', () => {
    const costType = avroType(loadSchema('post-outcome'));
    const value = { event_id: 'e', post_id: 'p', persona_id: 'x', occurred_at: new Date(1_700_000_000_000), follows: 3, engagements: 9, revenue: 1_500_000_000n, currency: 'USD', is_final: false };
    const framed = AvroCodec.encode(42, costType, value);
    expect(framed[0]).toBe(0);
    expect(framed.readInt32BE(1)).toBe(42);
    expect(costType.fromBuffer(framed.subarray(5))).toEqual(value);
  });
});
