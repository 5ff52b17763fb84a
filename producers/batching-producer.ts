import '../src/kafka/linear-grouping';
import { CompressionTypes, ICustomPartitioner, Kafka, Message, Partitioners, Producer, TopicMessages } from 'kafkajs';
import { DeliveryTimeoutError, DependencyError, ProducerClosedError } from '../src/errors';
import { Compression, compressionType } from '../src/kafka/codecs';
import { producerOptions } from '../src/kafka/options';
import { logger } from '../src/logging';
import { backoffDelay, sleep } from '../src/retry';

export interface BatchingProducerOptions {
  lingerMs: number;
  maxBatchEvents: number;
  maxBufferedEvents: number;
  compression: Compression;
  /** A call not acknowledged within this fails with DeliveryTimeoutError. */
  deliveryTimeoutMs: number;
}

const log = logger('sdk-producer');

/** One call waiting for its event to be acknowledged; resolves with `value`. */
class Pending {
  settled = false;
  sent = false;
  constructor(
    readonly topic: string,
    readonly message: Message,
    readonly eventId: string,
    readonly deadline: number,
    readonly value: unknown,
    readonly resolve: (value: any) => void,
    readonly reject: (err: unknown) => void,
  ) {}
}

/** Broker answers that mean the producer's id or sequence numbers no longer match the broker's. */
const PRODUCER_STATE_ERRORS = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER', 'DUPLICATE_SEQUENCE_NUMBER', 'INVALID_PRODUCER_EPOCH', 'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_ID_MAPPING', 'PRODUCER_FENCED', 'INVALID_TXN_STATE',
]);
/** Broker answers about the batch itself: resending it cannot help. */
const BATCH_REJECTED_ERRORS = new Set([
  'MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED',
  'UNSUPPORTED_COMPRESSION_TYPE', 'INVALID_REQUIRED_ACKS', 'INVALID_TOPIC_EXCEPTION',
]);

/** The Kafka protocol error types in an error and its causes. */
function errorTypes(err: unknown): string[] {
  const types: string[] = [];
  for (let e = err as { type?: unknown; cause?: unknown } | undefined, depth = 0; e && typeof e === 'object' && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.type === 'string') types.push(e.type);
  }
  return types;
}

/**
 * The default (murmur2, Java-compatible) partitioner, remembered per key buffer: the SDK reuses one
 * key buffer per persona, so the hash (and kafkajs's per-message filter of the partition list) is
 * computed once per persona and partition count instead of once per event.
 */
export const cachedDefaultPartitioner: ICustomPartitioner = () => {
  const inner = Partitioners.DefaultPartitioner();
  const cache = new WeakMap<Buffer, { partitions: number; partition: number }>();
  return (args) => {
    const key = args.message.key;
    if (args.message.partition != null || !Buffer.isBuffer(key)) return inner(args);
    const hit = cache.get(key);
    if (hit && hit.partitions === args.partitionMetadata.length) return hit.partition;
    const partition = inner(args);
    cache.set(key, { partitions: args.partitionMetadata.length, partition });
    return partition;
  };
};

const RESEND_BACKOFF = { initialDelayMs: 100, maxDelayMs: 2000, jitter: 0.2 };

/**
 * Kafka's JavaScript client sends each `send()` as its own request and has no linger, so the
 * SDK batches: messages wait up to `lingerMs` (or until `maxBatchEvents` are queued) and go out
 * in one idempotent `sendBatch` acknowledged by all in-sync replicas. The queue is bounded;
 * past `maxBufferedEvents` callers wait for room instead of growing memory.
 *
 * Outages: a batch that fails is resent, unchanged and under the same producer id, until it is
 * acknowledged, so the broker's sequence check drops a copy it already wrote. kafkajs rolls its
 * sequence numbers back when a send throws, so a *different* batch must never follow a failed one
 * on the same producer; if a batch is given up (all its callers timed out) or the broker says the
 * sequence or producer id is wrong, the producer is re-initialised (a new producer id) before
 * anything else is sent, and the batch resent under the same event ids and bytes. Storage dedups
 * by event id, so such a resend is the same event. Every call settles by its deadline
 * (`deliveryTimeoutMs`) with DeliveryTimeoutError if not acknowledged by then.
 */
export class BatchingProducer {
  private queue: Pending[] = [];
  /** Calls past the buffer bound, waiting for room (FIFO). */
  private waiting: Pending[] = [];
  private inFlight: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private closed = false;
  /** Set once a send failed and was not followed by an acknowledged resend of the same batch. */
  private needsNewProducerId = false;
  private readonly compression: CompressionTypes;
  producer: Producer;

  constructor(private readonly kafka: Kafka, private readonly opts: BatchingProducerOptions) {
    this.compression = compressionType(opts.compression);
    this.producer = this.createProducer();
  }

  private createProducer(): Producer {
    // The default partitioner is murmur2, as in the Java client, so every language keys a persona to the same partition.
    // Retries are unbounded (kafkajs's default for the idempotent producer): the delivery deadline is enforced here.
    return this.kafka.producer(producerOptions({
      createPartitioner: cachedDefaultPartitioner,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 1000 },
    }));
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    if (!this.sweeper && !this.closed) {
      this.sweeper = setInterval(() => this.expire(Date.now()), Math.max(20, Math.min(1000, this.opts.deliveryTimeoutMs / 10)));
      this.sweeper.unref();
    }
  }

  get buffered(): number {
    return this.queue.length + this.waiting.length;
  }

  /**
   * Queues a message; the promise resolves with `value` once the brokers acknowledged it, or
   * rejects with DeliveryTimeoutError after `deliveryTimeoutMs`.
   */
  send<T>(topic: string, message: Message, eventId: string, value: T): Promise<T> {
    if (this.closed) return Promise.reject(new ProducerClosedError('the cost producer is closed'));
    return new Promise<T>((resolve, reject) => {
      const p = new Pending(topic, message, eventId, Date.now() + this.opts.deliveryTimeoutMs, value, resolve, reject);
      if (this.queue.length >= this.opts.maxBufferedEvents) {
        this.waiting.push(p);
        return;
      }
      this.queue.push(p);
      this.schedule();
    });
  }

  /** A full batch goes now; a partial one when the linger timer fires. */
  private schedule(): void {
    if (this.queue.length >= this.opts.maxBatchEvents) this.kick();
    else if (this.queue.length > 0 && !this.timer) this.timer = setTimeout(() => this.kick(), this.opts.lingerMs);
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    // Between the send loop's last check of the queue and `sending` being cleared, calls can still
    // arrive and find a kick ignored: the loop's end schedules whatever they queued.
    if (!this.sending) {
      this.sending = this.drain().finally(() => {
        this.sending = undefined;
        this.schedule();
      });
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatchEvents);
      this.admitWaiting();
      await this.deliver(batch);
    }
  }

  private admitWaiting(): void {
    const room = this.opts.maxBufferedEvents - this.queue.length;
    if (room <= 0 || this.waiting.length === 0) return;
    for (const p of this.waiting.splice(0, room)) this.queue.push(p);
  }

  /** Sends one batch until it is acknowledged, rejected by the broker, or every caller has timed out. */
  private async deliver(batch: Pending[]): Promise<void> {
    this.inFlight = batch;
    // Fixed at the first send: every resend is the same messages (key and value bytes), in the same order.
    let topicMessages: TopicMessages[] | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0 && !batch.some((p) => !p.settled)) {
          // Every caller was told it timed out; give the batch up. If it was sent, kafkajs rolled
          // its sequence numbers back, so the next batch goes under a new producer id.
          if (topicMessages) this.needsNewProducerId = true;
          return;
        }
        try {
          if (this.needsNewProducerId) await this.reinitialise();
          if (!topicMessages) {
            // Calls that timed out before anything was sent were told so: they stay unsent.
            batch = batch.filter((p) => !p.settled);
            if (batch.length === 0) return;
            this.inFlight = batch;
            topicMessages = this.topicMessages(batch);
            for (const p of batch) p.sent = true;
          }
          await this.producer.sendBatch({ acks: -1, compression: this.compression, topicMessages });
          for (const p of batch) {
            if (!p.settled) {
              p.settled = true;
              p.resolve(p.value);
            }
          }
          return;
        } catch (err) {
          const types = errorTypes(err);
          if (types.some((t) => BATCH_REJECTED_ERRORS.has(t))) {
            this.needsNewProducerId = true;
            const wrapped = new DependencyError('kafka', `the broker rejected a batch of ${batch.length} events: ${(err as Error).message}`, { cause: err, retriable: false });
            for (const p of batch) {
              if (!p.settled) {
                p.settled = true;
                p.reject(wrapped);
              }
            }
            return;
          }
          if (types.some((t) => PRODUCER_STATE_ERRORS.has(t))) this.needsNewProducerId = true;
          const delay = backoffDelay(Math.min(attempt, 10), RESEND_BACKOFF);
          log.warn({ attempt: attempt + 1, events: batch.length, newProducerId: this.needsNewProducerId, delayMs: delay, err: (err as Error).message }, 'publishing a batch failed; resending it');
          await sleep(delay);
        }
      }
    } finally {
      this.inFlight = [];
    }
  }

  private topicMessages(batch: Pending[]): TopicMessages[] {
    const byTopic = new Map<string, Message[]>();
    for (const p of batch) {
      let list = byTopic.get(p.topic);
      if (!list) byTopic.set(p.topic, (list = []));
      list.push(p.message);
    }
    const out: TopicMessages[] = [];
    for (const [topic, messages] of byTopic) out.push({ topic, messages });
    return out;
  }

  /** A new idempotent producer (a new producer id, sequence numbers from zero). */
  private async reinitialise(): Promise<void> {
    const old = this.producer;
    this.producer = this.createProducer();
    await old.disconnect().catch(() => undefined);
    try {
      await this.producer.connect();
    } catch (err) {
      await this.producer.disconnect().catch(() => undefined);
      throw err;
    }
    this.needsNewProducerId = false;
    log.info({}, 'the SDK producer was re-initialised with a new producer id');
  }

  /** Fails every call past its deadline: in the buffer or waiting for room (never sent), or in flight. */
  private expire(now: number): void {
    this.expireHead(this.waiting, now);
    this.expireHead(this.queue, now);
    for (const p of this.inFlight) if (!p.settled && p.deadline <= now) this.timeOut(p);
    this.admitWaiting();
  }

  /** Calls are queued in deadline order, so the expired ones are a prefix. */
  private expireHead(list: Pending[], now: number): void {
    let n = 0;
    while (n < list.length && list[n].deadline <= now) n++;
    if (n === 0) return;
    for (const p of list.splice(0, n)) this.timeOut(p);
  }

  private timeOut(p: Pending): void {
    p.settled = true;
    p.reject(new DeliveryTimeoutError(p.eventId, p.sent, this.opts.deliveryTimeoutMs));
  }

  /**
   * Sends everything queued so far and waits until every call has settled: acknowledged, or
   * failed by its deadline. (A batch whose callers all timed out may still be in kafkajs's
   * hands; flush does not wait for it.)
   */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.waiting.length > 0 || (this.sending && this.inFlight.some((p) => !p.settled))) {
      this.kick();
      await Promise.race([this.sending, sleep(50)]);
      if (this.queue.length === 0 && this.waiting.length > 0) this.admitWaiting();
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    await this.producer.disconnect();
  }
}
