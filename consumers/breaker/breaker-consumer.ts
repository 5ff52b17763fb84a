import type avro from 'avsc';
import { Consumer, EachMessagePayload, Kafka, Producer } from 'kafkajs';
import { AvroCodec, avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { InvalidInputError } from '../../src/errors';
import { deadLetterMessage } from '../../src/kafka/dead-letter';
import { Logger } from '../../src/logging';
import { retry } from '../../src/retry';
import { superviseConsumer } from '../../src/kafka/consumer-supervisor';
import { CostAnomaly } from '../../src/contracts/anomaly';
import { ControlStore } from './control-store';
import { breakerMetrics } from './metrics';
import { heartbeatIntervalFor } from '../../src/kafka/client';

export interface BreakerConsumerOptions {
  /** KAFKA_SESSION_TIMEOUT_MS: how long the group waits for a silent member. */
  sessionTimeoutMs: number;
  kafka: Kafka;
  codec: AvroCodec;
  store: ControlStore;
  log: Logger;
  topic: string;
  deadLetterTopic: string;
  groupId: string;
  tickMs: number;
}

/**
 * Consumes anomalies (keyed by persona, so one persona's anomalies arrive in order on one
 * instance), steps the persona's breaker, and runs a tick loop that lifts pauses, starts probes
 * and closes recovered breakers for every persona under control.
 */
export class BreakerConsumer {
  private readonly consumer: Consumer;
  private readonly dlq: Producer;
  private readonly reader: avro.Type = avroType(loadSchema('cost-anomaly'));
  private readonly metrics = breakerMetrics();
  private ticker: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly o: BreakerConsumerOptions) {
    this.consumer = o.kafka.consumer({ groupId: o.groupId, maxWaitTimeInMs: 50, sessionTimeout: o.sessionTimeoutMs, heartbeatInterval: heartbeatIntervalFor(o.sessionTimeoutMs) });
    superviseConsumer(this.consumer, { groupId: o.groupId, log: o.log });
    this.dlq = o.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  }

  async start(): Promise<void> {
    await this.o.store.init();
    await this.dlq.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.o.topic], fromBeginning: true });
    await this.consumer.run({ autoCommitInterval: 500, partitionsConsumedConcurrently: 6, eachMessage: (p) => this.onMessage(p) });
    this.scheduleTick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearTimeout(this.ticker);
    await this.ticking;
    await this.consumer.disconnect();
    await this.dlq.disconnect();
  }

  private scheduleTick(): void {
    if (this.stopped) return;
    this.ticker = setTimeout(() => {
      this.ticking = this.tick()
        .catch((err) => this.o.log.warn({ err }, 'breaker tick failed; retrying next tick'))
        .finally(() => this.scheduleTick());
    }, this.o.tickMs);
  }

  /** Time-driven transitions for every persona under control. */
  async tick(): Promise<void> {
    const personas = await this.o.store.activePersonas();
    this.metrics.controlled.set(personas.length);
    for (const persona of personas) {
      if (this.stopped) return;
      await this.o.store.apply(persona, () => ({ kind: 'tick', now: Date.now() }));
    }
  }

  private async onMessage({ topic, partition, message }: EachMessagePayload): Promise<void> {
    let anomaly: CostAnomaly;
    try {
      ({ value: anomaly } = await retry(() => this.o.codec.decode<CostAnomaly>(message.value, this.reader), { retries: 10 }));
    } catch (err) {
      if (!(err instanceof InvalidInputError)) throw err;
      this.metrics.anomalies.inc({ outcome: 'dead_letter' });
      await this.dlq.send({
        topic: this.o.deadLetterTopic,
        acks: -1,
        messages: [deadLetterMessage({ topic, partition, offset: message.offset, reason: err.reason, error: err.message, key: message.key, value: message.value, headers: message.headers, consumerGroup: this.o.groupId })],
      });
      return;
    }
    const r = await this.o.store.apply(anomaly.persona_id, () => ({ kind: 'anomaly', anomaly, now: Date.now() }));
    this.metrics.anomalies.inc({ outcome: r.transition ? 'transition' : 'no_change' });
    if (r.transition) this.metrics.latency.observe(Math.max(0, Date.now() - Number(message.timestamp)) / 1000);
  }
}
