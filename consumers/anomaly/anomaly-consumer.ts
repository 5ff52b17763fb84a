import type avro from 'avsc';
import { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { Pool } from 'pg';
import { AvroCodec, avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { Overrides } from '../../src/config';
import { CostEvent, PostOutcome, validateCostEvent, validatePostOutcome, ValidationClock } from '../../src/events';
import { Logger } from '../../src/logging';
import { retry } from '../../src/retry';
import { consumerOptions, producerOptions, sessionTimeoutMs } from '../../src/kafka/options';
import { superviseConsumer } from '../../src/kafka/consumer-supervisor';
import { Decoded, decodeKnownOrDeadLetter, decodeOrDeadLetter, DecodeOptions } from '../../src/kafka/decode';
import { AnomalyPublisher } from './anomaly-publisher';
import { AnomalyStore } from './anomaly-store';
import { CheckpointStore, Positions } from './checkpoint-store';
import { CoPartitionedAssigner } from './co-partitioned-assigner';
import { AnomalyEngine } from './engine';
import { anomalyMetrics } from './metrics';
import { ReferenceStore } from './reference-store';
import { ledgerSpend, writeBudgetStatus } from './scoped-budget-ledger';
import { budgetId, ScopedBudget } from './scoped-budgets';
import { AnomalySettings } from './settings';
import { parseSnapshot, serializeSnapshotParts } from './snapshot';
import { AnomalyRecord } from './types';

export interface AnomalyConsumerOptions {
  kafka: Kafka;
  pool: Pool;
  codec: AvroCodec;
  log: Logger;
  settings: AnomalySettings;
  costTopic: string;
  outcomeTopic: string;
  anomalyTopic: string;
  deadLetterTopic: string;
  groupId: string;
  tickMs: number;
  checkpointIntervalMs: number;
  referenceRefreshMs: number;
  fetchMaxBytes?: number;
  fetchMaxBytesPerPartition?: number;
  overrides?: Overrides;
}

/** Messages handled between two flushes of anomalies; bounds detection latency under backlog. */
const CHUNK = 2000;

/**
 * Kafka/Postgres adapter around the pure AnomalyEngine.
 *
 * Recovery (why a Postgres checkpoint): every few seconds the state of each owned partition is
 * serialized together with the input offsets it reflects, AFTER all anomalies derived from it
 * are acknowledged by Kafka and stored; Kafka offsets are committed to the same positions. On
 * assignment the state is restored and messages below the checkpointed offsets are skipped, so
 * no input is counted twice (budget spend stays exact) and none is missed. Events between the
 * checkpoint and a crash are replayed and recompute the same anomaly ids and sequences
 * (deterministic); those already stored in cost_anomalies are not published again. A bounded
 * look-back replay could not recover budget spend for a month, and a changelog topic would
 * need exactly-once transactions kafkajs cannot span with Postgres; one row per partition can.
 */
export class AnomalyConsumer {
  readonly engine: AnomalyEngine;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly publisher: AnomalyPublisher;
  private readonly checkpoints: CheckpointStore;
  private readonly anomalies: AnomalyStore;
  private readonly reference: ReferenceStore;
  private readonly costReader: avro.Type = avroType(loadSchema('cost-event'));
  private readonly outcomeReader: avro.Type = avroType(loadSchema('post-outcome'));
  private readonly anomalyType: avro.Type = avroType(loadSchema('cost-anomaly'));
  private readonly metrics = anomalyMetrics();
  private readonly positions = new Map<number, Positions>();
  private readonly restoring = new Map<number, Promise<void>>();
  /** Partitions whose scoped budgets were started from the ledger, with the offset they were read below. */
  private readonly seeded = new Map<number, number>();
  /** Per partition, the scoped budgets whose spend before its positions the engine holds (from its checkpoint or the ledger). */
  private readonly scopedKnown = new Map<number, Set<string>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly out: AnomalyRecord[] = [];
  private schemaId = 0;
  private readonly validation: ValidationClock;
  private checkpointing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: AnomalyConsumerOptions) {
    this.reference = new ReferenceStore(o.pool, o.settings.postTargetNano);
    this.engine = new AnomalyEngine(o.settings, this.reference);
    this.consumer = o.kafka.consumer(consumerOptions({
      groupId: o.groupId,
      partitionAssigners: [CoPartitionedAssigner],
      sessionTimeoutMs: sessionTimeoutMs(o.overrides),
      maxBytesPerPartition: o.fetchMaxBytesPerPartition ?? 262_144,
      maxBytes: o.fetchMaxBytes ?? 1_048_576,
    }));
    superviseConsumer(this.consumer, { groupId: o.groupId, log: o.log });
    this.producer = o.kafka.producer(producerOptions());
    this.admin = o.kafka.admin();
    this.checkpoints = new CheckpointStore(o.pool, o.groupId, o.costTopic, o.outcomeTopic);
    this.anomalies = new AnomalyStore(o.pool);
    this.publisher = new AnomalyPublisher({
      producer: this.producer, pool: o.pool, store: this.anomalies, type: this.anomalyType, schemaId: () => this.schemaId,
      topic: o.anomalyTopic, deadLetterTopic: o.deadLetterTopic, groupId: o.groupId, log: o.log,
    });
    this.validation = new ValidationClock(o.overrides);
    this.costDecode = { codec: o.codec, log: o.log, reader: this.costReader, validate: (e) => validateCostEvent(e, this.validation.current()) };
    this.outcomeDecode = { codec: o.codec, log: o.log, reader: this.outcomeReader, validate: (e) => validatePostOutcome(e, this.validation.current()) };
  }

  async start(): Promise<void> {
    this.schemaId = await retry(() => this.o.codec.register(this.o.anomalyTopic, loadSchema('cost-anomaly')));
    await retry(() => this.reference.refresh());
    await this.producer.connect();
    await this.admin.connect();
    await this.consumer.connect();
    this.consumer.on(this.consumer.events.REBALANCING, () => this.metrics.rebalances.inc({ group: this.o.groupId }));
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => this.onAssignment(payload.memberAssignment));
    await this.consumer.subscribe({ topics: [this.o.costTopic, this.o.outcomeTopic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.every(this.o.tickMs, () => this.tick());
    this.every(this.o.checkpointIntervalMs, () => this.checkpoint());
    this.every(this.o.referenceRefreshMs, () => this.refreshReference());
    this.every(2000, async () => this.observeState());
    this.every(this.o.referenceRefreshMs, () => writeBudgetStatus(this.o.pool, this.engine.scopedBudgets()));
    this.every(500, () => this.refreshLag());
  }

  private every(ms: number, fn: () => Promise<void>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running || this.stopped) return;
      running = true;
      fn().catch((err) => this.o.log.warn({ err }, 'anomaly timer task failed; it runs again')).finally(() => (running = false));
    }, ms);
    this.timers.push(timer);
  }

  /** Stops fetching, publishes what the last batch produced, checkpoints, and closes. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.consumer.disconnect();
    await this.checkpointing;
    await this.checkpoint();
    await this.producer.disconnect();
    await this.admin.disconnect();
  }

  // ── input ──────────────────────────────────────────────────────────────────────────────────

  private onAssignment(assignment: Record<string, number[]>): void {
    const assigned = new Set([...(assignment[this.o.costTopic] ?? []), ...(assignment[this.o.outcomeTopic] ?? [])]);
    for (const p of [...this.positions.keys()]) {
      if (!assigned.has(p)) {
        this.engine.dropPartition(p);
        this.positions.delete(p);
        this.restoring.delete(p);
        this.seeded.delete(p);
        this.scopedKnown.delete(p);
      }
    }
  }

  private ensureRestored(partition: number): Promise<void> {
    let pending = this.restoring.get(partition);
    if (!pending) {
      pending = this.restore(partition);
      pending.catch(() => this.restoring.delete(partition));
      this.restoring.set(partition, pending);
    }
    return pending;
  }

  private async restore(partition: number): Promise<void> {
    const cp = await retry(() => this.checkpoints.load(partition));
    // Anomalies stored since shortly before the checkpoint are what a replay may recompute.
    const since = cp ? new Date(cp.takenAt.getTime() - 300_000) : new Date(Date.now() - 7 * 86_400_000);
    this.publisher.remember(await retry(() => this.anomalies.publishedSince(since)));
    if (cp) {
      const snap = parseSnapshot(cp.state);
      this.engine.restorePartition(snap);
      this.positions.set(partition, cp.positions);
      this.scopedKnown.set(partition, new Set(snap.scoped?.budgets ?? []));
    } else {
      this.scopedKnown.set(partition, new Set());
      this.engine.dropPartition(partition);
      this.positions.set(partition, { cost: -1, outcome: -1 });
    }
    await this.refreshLag([partition]);
    this.o.log.info({ partition, positions: this.positions.get(partition), restored: Boolean(cp) }, 'anomaly state ready for partition');
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const partition = batch.partition;
    await this.ensureRestored(partition);
    const kind = batch.topic === this.o.costTopic ? 'cost' : 'outcome';
    if (kind === 'cost' && !this.seeded.has(partition) && batch.messages.length > 0) {
      const pos = this.positions.get(partition);
      if (!pos) return;
      // Events below the first offset this consumer reads (or its checkpoint) come from the ledger,
      // for the budgets whose spend the checkpoint does not already hold.
      const known = this.scopedKnown.get(partition) ?? new Set();
      await this.seedScoped(partition, Math.max(pos.cost, Number(batch.messages[0].offset)), this.reference.allScopedBudgets().filter((b) => !known.has(budgetId(b))));
      this.seeded.set(partition, Math.max(pos.cost, Number(batch.messages[0].offset)));
    }
    for (let start = 0; start < batch.messages.length; start += CHUNK) {
      if (!isRunning() || isStale()) return;
      const pos = this.positions.get(partition);
      if (!pos) return; // revoked meanwhile
      const end = Math.min(batch.messages.length, start + CHUNK);
      let processed = 0;
      let replayed = 0;
      for (let i = start; i < end; i++) {
        const message = batch.messages[i];
        const offset = Number(message.offset);
        if (offset < pos[kind]) {
          replayed++;
          continue;
        }
        const handled = this.handle(kind, batch.topic, partition, message);
        if (handled === true || (handled !== false && (await handled))) processed++;
        pos[kind] = offset + 1;
      }
      const lag = Number(batch.highWatermark) - Number(batch.messages[end - 1].offset) - 1;
      this.engine.setLagging(partition, kind, lag > 0);
      this.metrics.events.inc({ input: kind, outcome: 'processed' }, processed);
      if (replayed) this.metrics.events.inc({ input: kind, outcome: 'replayed' }, replayed);
      this.publisher.enqueue(this.out.splice(0));
      await this.publisher.flush();
      // Moves the fetch position only (autoCommit is off): commits follow checkpoints.
      resolveOffset(batch.messages[end - 1].offset);
      await heartbeat();
    }
  }

  /** Decode options per input, made once: a consumer reads tens of thousands of messages a second. */
  private readonly costDecode: DecodeOptions<CostEvent>;
  private readonly outcomeDecode: DecodeOptions<PostOutcome>;

  /**
   * Feeds one message to the engine; a message that cannot be decoded or fails validation is
   * dead-lettered. Synchronous when the writer schema is known (all but the first message of a
   * schema id), so the hot path makes no promise per message.
   */
  private handle(kind: 'cost' | 'outcome', topic: string, partition: number, message: KafkaMessage): boolean | Promise<boolean> {
    const origin = { topic, partition };
    const known = kind === 'cost' ? decodeKnownOrDeadLetter(origin, message, this.costDecode) : decodeKnownOrDeadLetter(origin, message, this.outcomeDecode);
    if (known) return this.apply(kind, partition, message, known);
    const pending: Promise<Decoded<CostEvent | PostOutcome>> = kind === 'cost' ? decodeOrDeadLetter(origin, message, this.costDecode) : decodeOrDeadLetter(origin, message, this.outcomeDecode);
    return pending.then((r) => this.apply(kind, partition, message, r));
  }

  private apply(kind: 'cost' | 'outcome', partition: number, message: KafkaMessage, r: Decoded<CostEvent | PostOutcome>): boolean {
    if (!r.deadLetter) {
      const publishedAt = Number(message.timestamp);
      if (kind === 'cost') this.engine.onCost(partition, r.value as CostEvent, publishedAt, this.out);
      else this.engine.onOutcome(partition, r.value as PostOutcome, publishedAt, this.out);
      return true;
    }
    this.metrics.events.inc({ input: kind, outcome: 'dead_lettered' });
    this.publisher.enqueueDeadLetter(r.deadLetter);
    return false;
  }

  // ── timers ─────────────────────────────────────────────────────────────────────────────────

  private async tick(): Promise<void> {
    this.engine.tick(this.out);
    if (this.out.length === 0) return;
    this.publisher.enqueue(this.out.splice(0));
    await this.publisher.flush();
  }

  /** Starts scoped budgets of a partition from the ledger: its events below `beforeOffset` in the current period. */
  private async seedScoped(partition: number, beforeOffset: number, budgets: readonly ScopedBudget[]): Promise<void> {
    const spends = await retry(() => ledgerSpend(this.o.pool, budgets, partition, beforeOffset, Date.now(), (p) => this.reference.teamOf(p)));
    for (const [b, { periodStart, spent }] of spends) this.engine.seedScopedSpend(partition, b, periodStart, spent);
    const known = this.scopedKnown.get(partition) ?? new Set();
    for (const b of budgets) known.add(budgetId(b));
    this.scopedKnown.set(partition, known);
  }

  private async refreshReference(): Promise<void> {
    const known = new Set(this.reference.allScopedBudgets().map(budgetId));
    if (!(await this.reference.refresh())) return;
    // A budget new to this instance starts from the ledger for what was read before it existed.
    const added = this.reference.allScopedBudgets().filter((b) => !known.has(budgetId(b)));
    if (added.length > 0) {
      for (const [partition, pos] of this.positions) if (this.seeded.has(partition) && pos.cost >= 0) await this.seedScoped(partition, pos.cost, added);
    }
    this.engine.onReferenceChanged(this.out);
    this.publisher.enqueue(this.out.splice(0));
    await this.publisher.flush();
  }

  /** Tells the engine which inputs have a backlog (high watermark beyond our position). */
  private async refreshLag(partitions = [...this.positions.keys()]): Promise<void> {
    if (partitions.length === 0) return;
    const [cost, outcome] = await Promise.all([this.admin.fetchTopicOffsets(this.o.costTopic), this.admin.fetchTopicOffsets(this.o.outcomeTopic)]);
    for (const [input, offsets] of [['cost', cost], ['outcome', outcome]] as const) {
      for (const o of offsets) {
        const pos = this.positions.get(o.partition);
        if (!pos || !partitions.includes(o.partition)) continue;
        const from = Math.max(pos[input], Number(o.low));
        this.engine.setLagging(o.partition, input, Number(o.high) > from);
      }
    }
  }

  private counted = { duplicate: 0, stale: 0, late: 0, cohorts: { judged: 0, merged: 0, thin: 0, silent: 0 } };

  private async observeState(): Promise<void> {
    const s = this.engine.stats();
    // The engine counts since it was created; the counters take the increase since the last look.
    const c = this.counted;
    this.metrics.events.inc({ input: 'cost', outcome: 'duplicate' }, s.duplicateEvents - c.duplicate);
    this.metrics.events.inc({ input: 'outcome', outcome: 'stale' }, s.staleOutcomes - c.stale);
    this.metrics.events.inc({ input: 'outcome', outcome: 'late' }, s.lateOutcomes - c.late);
    for (const verdict of ['judged', 'merged', 'thin', 'silent'] as const) this.metrics.cohorts.inc({ verdict }, s.cohorts[verdict] - c.cohorts[verdict]);
    this.counted = { duplicate: s.duplicateEvents, stale: s.staleOutcomes, late: s.lateOutcomes, cohorts: s.cohorts };
    this.metrics.state.set({ kind: 'personas' }, s.personas);
    this.metrics.state.set({ kind: 'posts' }, s.posts);
    this.metrics.state.set({ kind: 'open_windows' }, s.openWindows);
    this.metrics.active.set(s.openAnomalies);
  }

  /** Snapshot now (synchronously, so state and positions agree), then make anomalies durable, then the snapshot. */
  checkpoint(): Promise<void> {
    if (this.checkpointing) return this.checkpointing;
    this.checkpointing = this.checkpointOnce().finally(() => (this.checkpointing = undefined));
    return this.checkpointing;
  }

  private async checkpointOnce(): Promise<void> {
    const end = this.metrics.checkpointDuration.startTimer();
    // One partition at a time bounds the memory a checkpoint needs to one partition's text.
    const taken: { partition: number; positions: Positions }[] = [];
    let bytes = 0;
    for (const partition of [...this.positions.keys()]) {
      const pos = this.positions.get(partition);
      if (!pos) continue;
      const cp = { partition, positions: { ...pos }, state: serializeSnapshotParts(this.engine.snapshot(partition, [...(this.scopedKnown.get(partition) ?? [])])) };
      this.publisher.enqueue(this.out.splice(0));
      await this.publisher.flush();
      await retry(() => this.checkpoints.save(cp));
      bytes += cp.state.head.length + 1 + cp.state.posts.length;
      taken.push({ partition, positions: cp.positions });
    }
    if (taken.length === 0) return;
    this.metrics.checkpointBytes.set(bytes);
    const offsets = taken.flatMap(({ partition, positions }) => [
      ...(positions.cost >= 0 ? [{ topic: this.o.costTopic, partition, offset: String(positions.cost) }] : []),
      ...(positions.outcome >= 0 ? [{ topic: this.o.outcomeTopic, partition, offset: String(positions.outcome) }] : []),
    ]);
    // Committed offsets mirror the checkpoint (for lag monitoring and as the resume point);
    // after a rebalance the commit may be refused, which is harmless: the checkpoint holds.
    if (offsets.length) await this.consumer.commitOffsets(offsets).catch((err) => this.o.log.debug({ err }, 'offset commit refused'));
    end();
  }
}
