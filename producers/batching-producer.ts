import { Kafka, Message, Partitioners, Producer } from 'kafkajs';
import { DependencyError, ProducerClosedError } from '../src/errors';
import { Compression, compressionType } from '../src/kafka/codecs';

export interface BatchingProducerOptions {
  lingerMs: number;
  maxBatchEvents: number;
  maxBufferedEvents: number;
  compression: Compression;
}

interface Pending {
  topic: string;
  message: Message;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Kafka's JavaScript client sends each `send()` as its own request and has no linger, so the
 * SDK batches: messages wait up to `lingerMs` (or until `maxBatchEvents` are queued) and go out
 * in one idempotent `sendBatch` acknowledged by all in-sync replicas. The queue is bounded;
 * past `maxBufferedEvents` callers wait for room instead of growing memory.
 */
export class BatchingProducer {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private waitingForRoom: (() => void)[] = [];
  private closed = false;
  readonly producer: Producer;

  constructor(kafka: Kafka, private readonly opts: BatchingProducerOptions) {
    // The default partitioner is murmur2, as in the Java client, so every language keys a persona to the same partition.
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  get buffered(): number {
    return this.queue.length;
  }

  /** Resolves once the message is acknowledged by the brokers. */
  async send(topic: string, message: Message): Promise<void> {
    if (this.closed) throw new ProducerClosedError('the cost producer is closed');
    while (this.queue.length >= this.opts.maxBufferedEvents) {
      await new Promise<void>((resolve) => this.waitingForRoom.push(resolve));
      if (this.closed) throw new ProducerClosedError('the cost producer is closed');
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ topic, message, resolve, reject });
      if (this.queue.length >= this.opts.maxBatchEvents) this.kick();
      else if (!this.timer) this.timer = setTimeout(() => this.kick(), this.opts.lingerMs);
    });
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.sending) this.sending = this.drain().finally(() => (this.sending = undefined));
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatchEvents);
      this.releaseRoom();
      const byTopic = new Map<string, Message[]>();
      for (const p of batch) {
        let list = byTopic.get(p.topic);
        if (!list) byTopic.set(p.topic, (list = []));
        list.push(p.message);
      }
      try {
        await this.producer.sendBatch({
          acks: -1,
          compression: compressionType(this.opts.compression),
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
        for (const p of batch) p.resolve();
      } catch (err) {
        const wrapped = new DependencyError('kafka', `publishing ${batch.length} events failed: ${(err as Error).message}`, { cause: err });
        for (const p of batch) p.reject(wrapped);
      }
    }
  }

  private releaseRoom(): void {
    while (this.waitingForRoom.length > 0 && this.queue.length < this.opts.maxBufferedEvents) this.waitingForRoom.shift()!();
  }

  /** Sends everything queued so far and waits for the acknowledgements. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.sending) {
      this.kick();
      await this.sending;
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    for (const wake of this.waitingForRoom.splice(0)) wake();
    await this.producer.disconnect();
  }
}
