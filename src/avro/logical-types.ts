import avro from 'avsc';

/**
 * Avro `decimal` logical type on `bytes`, read and written as a BigInt of unscaled units
 * (for `amount` with scale 9 that is nano-dollars). Two's-complement big-endian, as the Avro
 * specification says, so any Confluent-compatible client reads the same BigDecimal.
 */
export class DecimalType extends avro.types.LogicalType {
  private readonly precision: number;
  readonly scale: number;

  constructor(schema: avro.Schema, opts?: avro.ForSchemaOptions) {
    super(schema, opts);
    const attrs = schema as { precision?: number; scale?: number };
    this.precision = attrs.precision ?? 38;
    this.scale = attrs.scale ?? 0;
  }

  protected override _fromValue(buf: Buffer): bigint {
    if (buf.length === 0) return 0n;
    // Up to 6 bytes is exact as a float: nearly every amount ($281,474 at scale 9), without a BigInt per byte.
    if (buf.length <= 6) return BigInt(buf.readIntBE(0, buf.length));
    let value = 0n;
    for (const byte of buf) value = (value << 8n) | BigInt(byte);
    if (buf[0] & 0x80) value -= 1n << BigInt(buf.length * 8);
    return value;
  }

  protected override _toValue(value: unknown): Buffer {
    if (typeof value !== 'bigint') throw new TypeError(`decimal value must be a bigint of unscaled units, got ${typeof value}`);
    if (value >= 10n ** BigInt(this.precision) || value <= -(10n ** BigInt(this.precision))) {
      throw new RangeError(`decimal ${value} exceeds precision ${this.precision}`);
    }
    const bytes: number[] = [];
    let v = value;
    do {
      bytes.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (!(v === 0n && (bytes[0] & 0x80) === 0) && !(v === -1n && (bytes[0] & 0x80) !== 0));
    return Buffer.from(bytes);
  }

  protected override _resolve(type: avro.Type): ((x: unknown) => unknown) | undefined {
    if (avro.Type.isType(type, 'logical:decimal')) {
      const other = type as unknown as DecimalType;
      if (other.scale === this.scale) return (x) => x;
    }
    return undefined;
  }
}


/** Avro `timestamp-millis` on `long`, read and written as a JS Date. */
export class TimestampMillisType extends avro.types.LogicalType {
  protected override _fromValue(value: number): Date {
    return new Date(value);
  }

  protected override _toValue(value: unknown): number {
    if (value instanceof Date) return value.getTime();
    if (typeof value === 'number') return value;
    throw new TypeError(`timestamp-millis value must be a Date, got ${typeof value}`);
  }

  protected override _resolve(type: avro.Type): ((x: unknown) => unknown) | undefined {
    if (avro.Type.isType(type, 'long')) return (x) => new Date(x as number);
    if (avro.Type.isType(type, 'logical:timestamp-millis')) return (x) => x;
    return undefined;
  }
}

export const logicalTypes = {
  decimal: DecimalType as unknown as new (...args: any[]) => avro.types.LogicalType,
  'timestamp-millis': TimestampMillisType as unknown as new (...args: any[]) => avro.types.LogicalType,
};
