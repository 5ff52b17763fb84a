import type avro from 'avsc';
import { Consumer, EachMessagePayload, Kafka, Producer } from 'kafkajs';
import { AvroCodec, avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { publishDeadLetters } from '../../src/kafka/dead-letter';
import { decodeOrDeadLetter } from '../../src/kafka/decode';
import { Logger } from '../../src/logging';
import { superviseConsumer } from '../../src/kafka/consumer-supervisor';
import { CostAnomaly } from '../../src/contracts/anomaly';
import { Dispatcher } from './dispatcher';
import { alertMetrics } from './metrics';
import { OffsetTracker } from './offset-tracker';
import { consumerOptions } from '../../src/kafka/options';
import { AlertSettings } from './settings';

export interface AlertConsumerOptions {
  settings: Pick<AlertSettings, 'groupId' | 'sessionTimeoutMs' | 'tickMs' | 'maxInFlight'>;
  kafka: Kafka;
  codec: AvroCodec;
  dispatcher: Dispatcher;
  dlq: Producer;
  log: Logger;
  topic: string;
  deadLetterTopic: string;
}

/**
 * Consumes anomalies and dispatches their notifications without waiting for slow channels:
 * deliveries finish out of order, and the committed offset is the lowest one still in flight, so a
 * restart redelivers only unfinished work (and the exactly-once keys skip what was sent).
 */
export class AlertConsumer {
  private readonly consumer: Consumer;
  private readonly reader: avro.Type = avroType(loadSchema('cost-anomaly'));
  private readonly tracker = new OffsetTracker();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** eachMessage calls still deciding (decode, plan): stop() waits for them before sending what is held. */
  private readonly handling = new Set<Promise<void>>();
  private readonly metrics = alertMetrics();
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly o: AlertConsumerOptions) {
    const { groupId, sessionTimeoutMs } = o.settings;
    this.consumer = o.kafka.consumer(consumerOptions({ groupId, sessionTimeoutMs }));
    superviseConsumer(this.consumer, { groupId, log: o.log });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      this.tracker.reset();
      // Partitions may have moved: send every held follow-up now rather than leave it to this instance's timer.
      this.loop = this.loop.then(() => this.sendFollowUps(true)).catch((err) => this.o.log.warn({ err }, 'sending held follow-ups on rebalance failed'));
    });
    await this.consumer.subscribe({ topics: [this.o.topic], fromBeginning: true });
    await this.consumer.run({ autoCommit: false, partitionsConsumedConcurrently: 6, eachMessage: (p) => this.handle(p) });
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.loop = (async () => {
        await this.commit();
        await this.o.dispatcher.flushGroups();
        await this.sendFollowUps(false);
      })()
        .catch((err) => this.o.log.warn({ err }, 'alert housekeeping failed; retrying'))
        .finally(() => this.schedule());
    }, this.o.settings.tickMs);
  }

  /** Executes coalesced follow-ups that are due (all held ones when `all`); their offsets are released once sent. */
  private async sendFollowUps(all: boolean): Promise<void> {
    for (const f of await this.o.dispatcher.takeFollowUps(all)) this.track(this.o.dispatcher.execute(f.plan), f.plan.notification.alert_id, f.release);
  }

  private async commit(): Promise<void> {
    const offsets = this.tracker.takeCommittable();
    if (offsets.length === 0) return;
    await this.consumer.commitOffsets(offsets.map((o) => ({ topic: this.o.topic, ...o }))).catch((err) => this.o.log.warn({ err: (err as Error).message }, 'offset commit failed (rebalance?); deliveries are deduplicated on redelivery'));
  }

  /**
   * Stops fetching, lets the messages in hand be planned, sends every held follow-up, lets every
   * delivery finish (or dead-letter), commits, leaves the group.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.consumer.pause([{ topic: this.o.topic }]);
    await this.loop;
    await Promise.allSettled([...this.handling]);
    await this.sendFollowUps(true).catch((err) => this.o.log.error({ err }, 'sending held follow-ups at shutdown failed; they are redelivered after a restart'));
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
    await this.commit();
    await this.consumer.disconnect();
  }

  private track(work: Promise<unknown>, alertId: string, finish: () => void): void {
    const tracked = work
      .catch((err) => this.o.log.error({ err, alert: alertId }, 'dispatch failed; it will be redelivered after a restart'))
      .finally(() => {
        finish();
        this.inFlight.delete(tracked);
      });
    this.inFlight.add(tracked);
  }

  private async handle(p: EachMessagePayload): Promise<void> {
    const handling = this.onMessage(p);
    this.handling.add(handling);
    try {
      await handling;
    } finally {
      this.handling.delete(handling);
    }
  }

  private async onMessage({ topic, partition, message }: EachMessagePayload): Promise<void> {
    this.tracker.begin(partition, message.offset);
    const finish = () => this.tracker.end(partition, message.offset);
    const { value: anomaly, deadLetter } = await decodeOrDeadLetter<CostAnomaly>({ topic, partition }, message, { codec: this.o.codec, reader: this.reader, log: this.o.log });
    if (deadLetter) {
      this.metrics.anomalies.inc({ outcome: 'dead_letter' });
      await publishDeadLetters(this.o.dlq, this.o.deadLetterTopic, this.o.settings.groupId, [deadLetter]);
      finish();
      return;
    }
    const origin = { topic, partition, offset: message.offset, key: message.key, value: message.value, timestamp: Number(message.timestamp) };
    const plan = await this.o.dispatcher.plan(anomaly, origin, finish);
    if (plan === 'held') return; // released when the follow-up standing for it has been sent
    if (!plan) {
      finish();
      return;
    }
    this.track(this.o.dispatcher.execute(plan), anomaly.anomaly_id, finish);
    while (this.inFlight.size >= this.o.settings.maxInFlight) await Promise.race(this.inFlight);
  }
}
