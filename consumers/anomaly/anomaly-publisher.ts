import type avro from 'avsc';
import { Message, Producer } from 'kafkajs';
import { Pool } from 'pg';
import { AvroCodec } from '../../src/avro/codec';
import { DeadLetter, deadLetterMessage, recordDeadLetters } from '../../src/kafka/dead-letter';
import { Logger } from '../../src/logging';
import { retry } from '../../src/retry';
import { AnomalyStore } from './anomaly-store';
import { anomalyMetrics } from './metrics';
import { AnomalyRecord } from './types';

/** Most (anomaly id → sequence) entries remembered from a restore; far above any real backlog. */
const MAX_REMEMBERED = 200_000;

/**
 * Publishes anomaly states (Avro, keyed by persona, acks from all replicas) and dead letters,
 * then records them in Postgres. Flushes run one at a time, in order; `flush()` resolves when
 * everything queued before the call is durable, which is what a checkpoint waits for.
 * States that a replay recomputes (sequence ≤ the one already stored) are dropped.
 */
export class AnomalyPublisher {
  private anomalies: AnomalyRecord[] = [];
  private deadLetters: Omit<DeadLetter, 'consumerGroup'>[] = [];
  private chain: Promise<void> = Promise.resolve();
  private readonly published = new Map<string, number>();
  private readonly metrics = anomalyMetrics();

  constructor(
    private readonly o: {
      producer: Producer;
      pool: Pool;
      store: AnomalyStore;
      type: avro.Type;
      schemaId: () => number;
      topic: string;
      deadLetterTopic: string;
      groupId: string;
      log: Logger;
    },
  ) {}

  /** Marks states already published by an earlier run (from cost_anomalies) so replays skip them. */
  remember(published: Map<string, number>): void {
    for (const [id, seq] of published) if ((this.published.get(id) ?? 0) < seq) this.published.set(id, seq);
    if (this.published.size > MAX_REMEMBERED) {
      for (const id of this.published.keys()) {
        this.published.delete(id);
        if (this.published.size <= MAX_REMEMBERED) break;
      }
    }
  }

  enqueue(records: AnomalyRecord[]): void {
    for (const r of records) this.anomalies.push(r);
  }

  enqueueDeadLetter(dl: Omit<DeadLetter, 'consumerGroup'>): void {
    this.deadLetters.push(dl);
  }

  get pending(): number {
    return this.anomalies.length + this.deadLetters.length;
  }

  flush(): Promise<void> {
    const next = this.chain.then(() => this.flushOnce());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async flushOnce(): Promise<void> {
    if (this.anomalies.length === 0 && this.deadLetters.length === 0) return;
    const taken = this.anomalies;
    const dls = this.deadLetters;
    this.anomalies = [];
    this.deadLetters = [];
    try {
      await this.publish(taken, dls);
    } catch (err) {
      // Keep them for the next attempt, in order; offsets past them are not checkpointed meanwhile.
      this.anomalies = taken.concat(this.anomalies);
      this.deadLetters = dls.concat(this.deadLetters);
      throw err;
    }
  }

  private async publish(records: AnomalyRecord[], dls: Omit<DeadLetter, 'consumerGroup'>[]): Promise<void> {
    const fresh = records.filter((r) => {
      const done = this.published.get(r.anomaly_id);
      if (done !== undefined && r.sequence <= done) {
        this.metrics.suppressed.inc();
        return false;
      }
      return true;
    });
    const messages: { topic: string; messages: Message[] }[] = [];
    if (fresh.length) {
      messages.push({
        topic: this.o.topic,
        messages: fresh.map((r) => ({
          key: r.persona_id,
          value: AvroCodec.encode(this.o.schemaId(), this.o.type, r),
          headers: { 'anomaly.id': r.anomaly_id, 'anomaly.sequence': String(r.sequence) },
        })),
      });
    }
    if (dls.length) messages.push({ topic: this.o.deadLetterTopic, messages: dls.map((d) => deadLetterMessage({ ...d, consumerGroup: this.o.groupId })) });
    if (messages.length === 0) return;
    const retryOpts = { retries: 20, maxDelayMs: 5000, onRetry: (err: unknown, attempt: number) => this.o.log.warn({ err, attempt }, 'publishing anomalies failed; retrying') };
    // Kafka first, then Postgres: a crash in between re-publishes the same (id, sequence) on
    // replay, which consumers dedupe; the other order could lose an anomaly.
    await retry(() => this.o.producer.sendBatch({ topicMessages: messages, acks: -1 }), retryOpts);
    const ackedAt = Date.now();
    if (dls.length) {
      await retry(() => recordDeadLetters(this.o.pool, this.o.groupId, dls), retryOpts);
      for (const d of dls) this.metrics.deadLetters.inc({ reason: d.reason });
    }
    if (fresh.length) {
      await retry(() => this.o.store.upsert(fresh), retryOpts);
      for (const r of fresh) {
        this.published.set(r.anomaly_id, r.sequence);
        this.metrics.anomalies.inc({ type: r.anomaly_type, severity: r.severity, status: r.status });
        if (r.trigger_published_at && r.status !== 'resolved') {
          this.metrics.detectionLatency.observe({ type: r.anomaly_type }, Math.max(0, ackedAt - r.trigger_published_at.getTime()) / 1000);
        }
      }
      if (this.published.size > MAX_REMEMBERED) this.remember(new Map());
    }
  }
}
