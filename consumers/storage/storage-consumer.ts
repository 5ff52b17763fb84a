import type avro from 'avsc';
import { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { Pool } from 'pg';
import { AvroCodec, avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { CostEvent, validateCostEvent, ValidationClock } from '../../src/events';
import { InvalidInputError, isRetriable } from '../../src/errors';
import { publishDeadLetters } from '../../src/kafka/dead-letter';
import { decodeOrDeadLetter } from '../../src/kafka/decode';
import { superviseConsumer } from '../../src/kafka/consumer-supervisor';
import { Logger } from '../../src/logging';
import { retry, sleep } from '../../src/retry';
import { Overrides } from '../../src/config';
import { BatchAccumulator } from './batch-accumulator';
import type { StorageSettings } from './settings';
import { CostEventWriter, DeadLetterRow, WriteResult } from './cost-event-writer';
import { ledgerRow, originalMessage, rowEventId, rowPublishedAt, type LedgerRow } from './ledger-batch';
import { LedgerRowReader } from './ledger-row-reader';
import { storageMetrics } from './metrics';
import { dependencyError, operationalMetrics } from '../../src/metrics/operational';
import { observeAll } from '../../src/metrics/observe-all';
import { consumerOptions, producerOptions } from '../../src/kafka/options';

/** The role's settings (settings.ts) the consumer reads, and what it is wired to. */
export interface StorageConsumerOptions extends Omit<StorageSettings, 'partitions'> {
  kafka: Kafka;
  pool: Pool;
  codec: AvroCodec;
  log: Logger;
  topic: string;
  deadLetterTopic: string;
  /** A batch could not be stored even after retries; the process should exit and restart. */
  onFatal: (err: unknown) => void;
  overrides?: Overrides;
  /** Called after each committed batch (cache invalidation, metrics of other components). */
  onCommitted?: (result: WriteResult) => Promise<void> | void;
}

/**
 * Batches a lane may hold besides the one it writes. Draining a full topic (1,000,000 events, in
 * alternating pairs on one box), against one with 2 MiB fetches: one and a half with 1 MiB fetches
 * stored 4.6-5 % faster and peaked at 177-180 MB (175-196 MB); with 2 MiB fetches 7 % faster, ~8 MB
 * higher. Two were 18-21 % faster with 2 MiB fetches but peaked at 202-211 MB, and with 1 MiB
 * fetches only 2-3 % faster.
 */
const LANE_ROOM_BATCHES = 1.5;
/** Messages decoded between two turns of the event loop (see eachBatch). */
const DECODE_SLICE = 100;

/** What a lane buffers: a row to store, or a message refused before it (a dead letter, which has a reason). */
type Item = LedgerRow | DeadLetterRow;
const isDeadLetter = (item: Item): item is DeadLetterRow => (item as DeadLetterRow).reason !== undefined;

/**
 * Consumes cost events and stores them in Postgres. Offsets are committed only after the
 * transaction holding their batch has committed; an event id is stored once whatever its event time; bad
 * messages are recorded as dead letters in that same transaction and then published to the
 * dead-letter topic. A batch Postgres refuses as data is split until the offending event is
 * isolated and dead-lettered, so one bad row never blocks a partition.
 */
export class StorageConsumer {
  private readonly consumer: Consumer;
  private readonly dlqProducer: Producer;
  private readonly writers: CostEventWriter[];
  private readonly accumulators: BatchAccumulator<Item>[];
  private readonly reader: avro.Type = avroType(loadSchema('cost-event'));
  private readonly rowReader = new LedgerRowReader();
  private readonly metrics = storageMetrics();
  private readonly validation: ValidationClock;
  private listenersDone: Promise<unknown> = Promise.resolve();
  private readonly commits = new Map<string, Promise<void>>();
  private stopping = false;
  private readonly batchesInHand = new Set<Promise<void>>();
  private listenersPending = 0;
  /** Messages being decoded for each lane, counted against its bound before they are added. */
  private readonly reserved = new Map<BatchAccumulator<Item>, number>();

  constructor(private readonly o: StorageConsumerOptions) {
    this.consumer = o.kafka.consumer(consumerOptions({
      groupId: o.groupId,
      maxWaitTimeInMs: 100,
      sessionTimeoutMs: o.sessionTimeoutMs,
      maxBytes: o.fetchMaxBytes,
      maxBytesPerPartition: o.fetchMaxBytesPerPartition,
    }));
    superviseConsumer(this.consumer, { groupId: o.groupId, log: o.log });
    this.dlqProducer = o.kafka.producer(producerOptions());
    // One writer (connection) per flush lane. A Kafka partition always flushes in
    // the same lane, and since events are keyed by persona, concurrent transactions touch disjoint
    // personas and posts: their rollup updates never wait on each other's row locks.
    this.writers = Array.from({ length: o.flushConcurrency }, () => new CostEventWriter(o.pool, o.groupId, o.topic));
    this.accumulators = this.writers.map((writer) => new BatchAccumulator<Item>((items) => this.flush(items, writer), o.batchMaxEvents, o.batchMaxWaitMs));
    this.validation = new ValidationClock(o.overrides);
  }

  async start(): Promise<void> {
    await this.dlqProducer.connect();
    await this.consumer.connect();
    this.metrics.rebalances.inc({ group: this.o.groupId }, 0); // the series exists from the start, so increase() sees the first
    this.consumer.on(this.consumer.events.REBALANCING, () => this.metrics.rebalances.inc({ group: this.o.groupId }));
    await this.consumer.subscribe({ topics: [this.o.topic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 8,
      eachBatch: (payload) => {
        const handled = this.eachBatch(payload);
        this.batchesInHand.add(handled);
        return handled.finally(() => this.batchesInHand.delete(handled));
      },
    });
  }

  /**
   * Stops fetching; the batches in hand are written and their offsets committed before this
   * resolves. The group is left only after that: once kafkajs's consumer.stop() has left the
   * group, commitOffsets is refused, and the successor would re-read what was already stored.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.consumer.pause([{ topic: this.o.topic }]);
    await Promise.allSettled([...this.batchesInHand]);
    await Promise.all(this.accumulators.map((a) => a.drain()));
    await Promise.all(this.commits.values());
    await this.consumer.stop();
    await this.consumer.disconnect();
    await this.waitForListeners(0);
    await this.dlqProducer.disconnect();
    for (const writer of this.writers) writer.close();
  }

  /**
   * Decodes a fetched batch in chunks and hands each chunk to its lane without waiting for the
   * write: the fetch position moves on (resolveOffset) so Kafka fetching overlaps the Postgres
   * transaction, while the committed offset moves only once that transaction has committed.
   * A lane holds the batch it is writing and at most LANE_ROOM_BATCHES more (decoded or being
   * decoded), which bounds memory while the lanes' transactions and the decoding overlap.
   */
  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const chunkSize = Math.max(1, this.o.batchMaxEvents);
    const lane = this.accumulators[batch.partition % this.accumulators.length];
    for (let start = 0; start < batch.messages.length; start += chunkSize) {
      if (this.stopping || !isRunning() || isStale()) return;
      const chunk = batch.messages.slice(start, start + chunkSize);
      // Room is taken before decoding: several partitions share a lane, and a full topic keeps
      // every one of them busy, so the bound must hold across them, not per partition.
      await this.reserveRoom(lane, chunk.length, Math.ceil(LANE_ROOM_BATCHES * chunkSize));
      const items: Item[] = [];
      try {
        for (let i = 0; i < chunk.length; i++) {
          // A chunk decodes in ~100 ms; the lanes' transactions take their next statement only
          // when the event loop is free, so decoding yields to them every hundred messages (~2 ms).
          if (i > 0 && i % DECODE_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
          const message = chunk[i];
          items.push(this.decodeKnown(batch.topic, batch.partition, message) ?? (await this.decode(batch.topic, batch.partition, message)));
        }
      } finally {
        this.reserved.set(lane, (this.reserved.get(lane) ?? 0) - chunk.length);
      }
      const stored = lane.add(items);
      stored.catch(() => undefined); // handled in commitWhenStored; this only marks it handled early
      const last = chunk[chunk.length - 1].offset;
      this.commitWhenStored(stored, batch.topic, batch.partition, (BigInt(last) + 1n).toString());
      resolveOffset(last);
      await heartbeat();
    }
  }

  /**
   * Waits until a lane has room for `n` more messages besides the batch it is writing: at most
   * `limit` may wait (buffered or being decoded for it), so decoding overlaps the write, a full
   * next batch is ready when it ends, and a lane's memory stays bounded.
   */
  private async reserveRoom(lane: BatchAccumulator<Item>, n: number, limit: number): Promise<void> {
    for (;;) {
      const reserved = this.reserved.get(lane) ?? 0;
      const waiting = lane.size + reserved;
      if (waiting === 0 || waiting + n <= limit) {
        this.reserved.set(lane, reserved + n);
        return;
      }
      const before = lane.pending;
      await lane.waitForRoom(before); // until a flush finishes; at once if none is running
      if (lane.pending >= before) await sleep(5);
    }
  }

  /** Commits a partition's offsets in order, each only after the transaction holding its messages. */
  private commitWhenStored(stored: Promise<void>, topic: string, partition: number, offset: string): void {
    const key = `${topic}/${partition}`;
    const previous = this.commits.get(key) ?? Promise.resolve();
    const next = previous.then(async () => {
      try {
        await stored;
      } catch (err) {
        // Retries are exhausted and the fetch position is past unsaved messages: stop, and let the
        // restart resume from the last committed offset. Nothing is lost; nothing was committed.
        this.o.onFatal(err);
        throw err;
      }
      await this.consumer.commitOffsets([{ topic, partition, offset }]).catch((err) => {
        // After a rebalance the partition may belong to another member, which resumes from the last
        // committed offset; the rows are stored and inserts are idempotent, so a lost commit is harmless.
        this.o.log.warn({ err: (err as Error).message, topic, partition }, 'offset commit failed; the partition will be re-read from the last committed offset');
      });
    });
    const settled = next.catch(() => undefined);
    this.commits.set(key, settled);
    void settled.finally(() => {
      if (this.commits.get(key) === settled) this.commits.delete(key);
    });
  }

  /** Decodes without a promise when the message's writer schema is known (nearly always); undefined if the registry must be asked. */
  private decodeKnown(topic: string, partition: number, message: KafkaMessage): Item | undefined {
    if (this.o.codec.isWrittenWith(message.value, this.reader)) {
      const row = this.rowReader.read(message.value!, partition, message.offset, message.key, this.validation.current(), Number(message.timestamp));
      if (row) return row;
    }
    let decoded: { value: CostEvent } | undefined;
    try {
      decoded = this.o.codec.decodeKnown<CostEvent>(message.value, this.reader);
      if (!decoded) return undefined;
      validateCostEvent(decoded.value, this.validation.current());
    } catch (err) {
      if (err instanceof InvalidInputError) return this.deadItem(topic, partition, message, err);
      throw err;
    }
    return ledgerRow({ event: decoded.value, partition, offset: message.offset, key: message.key, value: message.value }, Number(message.timestamp));
  }

  private deadItem(topic: string, partition: number, message: KafkaMessage, err: InvalidInputError): Item {
    return { topic, partition, offset: message.offset, reason: err.reason, error: err.message, key: message.key, value: message.value };
  }

  private async decode(topic: string, partition: number, message: KafkaMessage): Promise<Item> {
    const { value, deadLetter } = await decodeOrDeadLetter<CostEvent>({ topic, partition }, message, {
      codec: this.o.codec, reader: this.reader, log: this.o.log, validate: (e) => validateCostEvent(e, this.validation.current()),
    });
    if (deadLetter) return deadLetter;
    return ledgerRow({ event: value, partition, offset: message.offset, key: message.key, value: message.value }, Number(message.timestamp));
  }

  private async flush(items: Item[], writer: CostEventWriter): Promise<void> {
    await this.waitForListeners(2);
    const started = process.hrtime.bigint();
    const deadLetters: DeadLetterRow[] = [];
    const events: LedgerRow[] = [];
    for (const item of items) {
      if (isDeadLetter(item)) deadLetters.push(item);
      else events.push(item);
    }
    const { result, deadLetters: written } = await this.writeIsolating(writer, events, deadLetters);
    await publishDeadLetters(this.dlqProducer, this.o.deadLetterTopic, this.o.groupId, written, { retries: 5 });
    const now = Date.now();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.metrics.batchDuration.observe(seconds);
    operationalMetrics().operationLatency.observe({ operation: 'storage_batch' }, seconds);
    this.metrics.batchSize.observe(items.length);
    this.metrics.events.inc({ outcome: 'stored' }, result.inserted);
    this.metrics.events.inc({ outcome: 'duplicate' }, result.duplicates);
    for (const d of written) this.metrics.deadLetters.inc({ reason: d.reason });
    const latencies = new Float64Array(events.length);
    let timed = 0;
    for (const row of events) {
      const publishedAt = rowPublishedAt(row);
      if (publishedAt > 0) latencies[timed++] = Math.max(0, now - publishedAt) / 1000;
    }
    observeAll(this.metrics.ingestLatency, latencies, timed);
    this.notifyCommitted(result);
  }

  /**
   * Listeners (cache invalidation, metrics) run after the commit, in commit order, but off the
   * flush's path: they must not hold back the next batch. At most two batches wait for them.
   */
  private notifyCommitted(result: WriteResult): void {
    if (!this.o.onCommitted) return;
    const run = this.listenersDone.then(() => this.o.onCommitted!(result)).catch((err) => this.o.log.warn({ err }, 'commit listener failed'));
    this.listenersDone = run;
    this.listenersPending++;
    void run.finally(() => this.listenersPending--);
  }

  private async waitForListeners(max: number): Promise<void> {
    while (this.listenersPending > max) await this.listenersDone;
  }

  /**
   * Writes with retries on passing faults; when Postgres refuses the data itself, splits the
   * batch in halves until the refused events stand alone, and dead-letters them.
   */
  private async writeIsolating(writer: CostEventWriter, events: LedgerRow[], deadLetters: DeadLetterRow[]): Promise<{ result: WriteResult; deadLetters: DeadLetterRow[] }> {
    try {
      const result = await retry(() => writer.write(events, deadLetters), {
        retries: 20,
        maxDelayMs: 5000,
        onRetry: (err, attempt) => {
          dependencyError('postgres');
          this.o.log.warn({ err, attempt }, 'Postgres write failed; retrying');
        },
      });
      return { result, deadLetters: result.deadLetters };
    } catch (err) {
      if (!(err instanceof InvalidInputError) || isRetriable(err) || events.length === 0) throw err;
      if (events.length === 1) {
        const { partition, offset } = events[0];
        this.o.log.warn({ err, eventId: rowEventId(events[0]) }, 'Postgres refused an event; dead-lettering it');
        const refused = { topic: this.o.topic, partition, offset, reason: err.reason, error: err.message, ...originalMessage(events[0]) };
        return this.writeIsolating(writer, [], [...deadLetters, refused]);
      }
      const mid = Math.floor(events.length / 2);
      const left = await this.writeIsolating(writer, events.slice(0, mid), deadLetters);
      const right = await this.writeIsolating(writer, events.slice(mid), []);
      return {
        result: {
          inserted: left.result.inserted + right.result.inserted,
          duplicates: left.result.duplicates + right.result.duplicates,
          posts: [...left.result.posts, ...right.result.posts],
          deltas: [...left.result.deltas, ...right.result.deltas],
          deadLettered: left.result.deadLettered + right.result.deadLettered,
          deadLetters: [...left.deadLetters, ...right.deadLetters],
        },
        deadLetters: [...left.deadLetters, ...right.deadLetters],
      };
    }
  }
}
