import type { KafkaMessage, Producer, ProducerRecord } from 'kafkajs';
import { AvroCodec, avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { DependencyError, InvalidInputError } from '../../src/errors';
import { publishDeadLetters, storableText } from '../../src/kafka/dead-letter';
import { decodeOrDeadLetter } from '../../src/kafka/decode';
import { consumerOptions, producerOptions, sessionTimeoutMs } from '../../src/kafka/options';
import { logger } from '../../src/logging';

const log = logger('kafka-kit-test');
const message = (value: Buffer | null, offset = '7'): KafkaMessage =>
  ({ key: Buffer.from('persona-1'), value, offset, timestamp: '0', attributes: 0, headers: { 'x-origin': 'sdk' } }) as KafkaMessage;

describe('producer and consumer options', () => {
  it('every producer is idempotent with one request in flight and never creates topics', () => {
    expect(producerOptions()).toMatchObject({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    expect(producerOptions({ retry: { retries: 3 } })).toMatchObject({ idempotent: true, retry: { retries: 3 } });
  });

  it('every consumer takes its session timeout from KAFKA_SESSION_TIMEOUT_MS, with the heartbeat at a tenth', () => {
    const session = sessionTimeoutMs({ KAFKA_SESSION_TIMEOUT_MS: '12000' });
    expect(consumerOptions({ groupId: 'g', sessionTimeoutMs: session })).toEqual({ groupId: 'g', maxWaitTimeInMs: 50, sessionTimeout: 12_000, heartbeatInterval: 1200 });
    expect(consumerOptions({ groupId: 'g', sessionTimeoutMs: 6000, maxWaitTimeInMs: 100 })).toMatchObject({ maxWaitTimeInMs: 100, heartbeatInterval: 600 });
    expect(() => sessionTimeoutMs({ KAFKA_SESSION_TIMEOUT_MS: 'soon' })).toThrow(/KAFKA_SESSION_TIMEOUT_MS="soon" is not an integer in \[6000, 300000\]/);
  });
});

describe('decodeOrDeadLetter', () => {
  const codec = new AvroCodec('http://127.0.0.1:1');
  const reader = avroType(loadSchema('cost-anomaly'));

  it('returns a message that is not Avro as a dead letter with its origin, reason, bytes and headers', async () => {
    const r = await decodeOrDeadLetter({ topic: 't', partition: 3 }, message(Buffer.from('not avro at all')), { codec, reader, log });
    expect(r.value).toBeUndefined();
    expect(r.deadLetter).toMatchObject({ topic: 't', partition: 3, offset: '7', reason: 'avro.bad_magic_byte', value: Buffer.from('not avro at all'), headers: { 'x-origin': 'sdk' } });
    expect(r.deadLetter?.key?.toString()).toBe('persona-1');
  });

  it('dead-letters a decoded value that fails validation, and passes a valid one', async () => {
    const decoded = { decode: async () => ({ schemaId: 1, value: { n: -1 } }) } as unknown as AvroCodec;
    const validate = (v: { n: number }) => {
      if (v.n < 0) throw new InvalidInputError('n.negative', 'n must not be negative');
    };
    const bad = await decodeOrDeadLetter({ topic: 't', partition: 0 }, message(Buffer.alloc(8)), { codec: decoded, reader, log, validate });
    expect(bad.deadLetter).toMatchObject({ reason: 'n.negative', error: 'n must not be negative' });
    const good = await decodeOrDeadLetter<{ n: number }>({ topic: 't', partition: 0 }, message(Buffer.alloc(8)), { codec: decoded, reader, log, validate: () => undefined });
    expect(good).toEqual({ value: { n: -1 } });
  });

  it('throws (never dead-letters) while the schema registry is unreachable', async () => {
    const framed = Buffer.from([0, 0, 0, 0, 42, 1, 2, 3]);
    await expect(decodeOrDeadLetter({ topic: 't', partition: 0 }, message(framed), { codec, reader, log, retries: 1 })).rejects.toBeInstanceOf(DependencyError);
  });
});

describe('the dead-letter writer', () => {
  it('retries a passing broker fault instead of losing the dead letter', async () => {
    const sent: ProducerRecord[] = [];
    let calls = 0;
    const producer = {
      send: async (record: ProducerRecord) => {
        if (++calls === 1) throw Object.assign(new Error('leader not available'), { retriable: true });
        sent.push(record);
        return [];
      },
    } as unknown as Producer;
    const letter = { topic: 'in', partition: 1, offset: '5', reason: 'avro.malformed', error: 'bad', key: null, value: Buffer.from('x') };
    await publishDeadLetters(producer, 'dlq', 'group-a', [letter], { initialDelayMs: 1 });
    expect(calls).toBe(2);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ topic: 'dlq', acks: -1 });
    expect(sent[0].messages[0].headers).toMatchObject({ 'dlq.reason': 'avro.malformed', 'dlq.origin.offset': '5', 'dlq.consumer.group': 'group-a' });
  });

  it('replaces NUL, which a Postgres text column refuses', () => {
    expect(storableText('a\u0000b')).toBe('a\uFFFDb');
  });
});
