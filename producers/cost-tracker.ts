import type avro from 'avsc';
import { Kafka } from 'kafkajs';
import { AvroCodec, avroType } from '../src/avro/codec';
import { CostEventEncoder } from '../src/avro/cost-event-encoder';
import { loadSchema } from '../src/avro/schemas';
import { Overrides, setting, topics, Topics } from '../src/config';
import { completeCostEvent, completeOwnedDraft, CostEvent, CostEventDraft, CostType, newEventId, parseMicroUnits, PostOutcome, ValidationClock } from '../src/events';
import { InvalidInputError } from '../src/errors';
import { createKafka, SDK_RETRY } from '../src/kafka/client';
import { formatUsd, usdToNano } from '../src/money';
import { PriceBook, priceBookFromConfig, pricingTableFileFromConfig, pricingTableFromConfig } from '../src/pricing';
import { BatchingProducer } from './batching-producer';
import { trackerSettings } from './settings';

/** Attribution and tracing fields common to every tracked cost. */
export interface Attribution {
  personaId: string;
  postId?: string;
  operation?: string;
  service?: string;
  correlationId?: string;
  requestId?: string;
  metadata?: Record<string, string>;
  /** When the spend happened; defaults to now. */
  eventTime?: Date;
  /**
   * The event's id; a new UUID when omitted. A call that failed (for instance with
   * DeliveryTimeoutError) may still have been stored, so retry it with the same `eventId`
   * (the error carries it): the ledger holds one row per event id, so the retry is the same event.
   */
  eventId?: string;
}

export interface OpenAICost extends Attribution {
  model: string;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
  /**
   * Input tokens written to a prompt cache (counted within inputTokens), billed at the table's
   * cache-write rates: `fiveMinute` and `oneHour` as Anthropic reports them. The event has no usage
   * field for them: they are recorded in metadata (cache_write_input_tokens, cache_write_1h_input_tokens).
   */
  cacheWriteInputTokens?: { fiveMinute?: number; oneHour?: number };
  provider?: string;
}

export interface InfrastructureCost extends Attribution {
  resourceType?: string;
  /** Decimal text or number, e.g. "0.5". */
  cpuCores: string | number;
  memoryGb: string | number;
  durationMs: number;
}

export interface VectorDbCost extends Attribution {
  vectorOperation: string;
  units: number;
  provider?: string;
}

export interface Outcome {
  postId: string;
  personaId: string;
  follows?: number;
  engagements?: number;
  /** USD decimal text or number. */
  revenueUsd?: string | number;
  occurredAt?: Date;
  eventId?: string;
  /** Figures are cumulative: each outcome replaces the post's earlier totals. `final` says no later update will come. */
  final?: boolean;
}

export interface TrackedCost {
  readonly eventId: string;
  readonly nanoUsd: bigint;
  /** Exact USD decimal string. */
  readonly amountUsd: string;
  readonly priceStatus: CostEvent['price']['status'];
  readonly event: CostEvent;
}

/** What a track call resolves with; the USD text is formatted only if read. */
class Tracked implements TrackedCost {
  constructor(readonly event: CostEvent) {}
  get eventId(): string {
    return this.event.event_id;
  }
  get nanoUsd(): bigint {
    return this.event.amount;
  }
  get amountUsd(): string {
    return formatUsd(this.event.amount);
  }
  get priceStatus(): CostEvent['price']['status'] {
    return this.event.price.status;
  }
  toJSON(): object {
    return { eventId: this.eventId, nanoUsd: this.nanoUsd.toString(), amountUsd: this.amountUsd, priceStatus: this.priceStatus };
  }
}

/** Bound on cached message keys (one per persona). */
const MAX_CACHED_KEYS = 10_000;

export interface CostTrackerOptions {
  overrides?: Overrides;
  kafka?: Kafka;
  priceBook?: PriceBook;
  /** Register schemas on start (default); turn off where the registry is managed elsewhere. */
  registerSchemas?: boolean;
}

/** Callers pass the same few sizes ("0.5", "1.25") again and again: parsed once each (bounded). */
const microCache = new Map<string | number, bigint>();

function toMicro(value: string | number, field: string): bigint {
  const hit = microCache.get(value);
  if (hit !== undefined) return hit;
  const micro = parseMicroUnits(value, field);
  if (microCache.size >= 1000) microCache.clear();
  microCache.set(value, micro);
  return micro;
}

function checkTokens(field: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidInputError(`${field}.invalid`, `${field} must be a non-negative integer, got ${n}`);
}

/**
 * The SDK services use to publish what they spend. Each `track*` call prices the usage
 * exactly, publishes one Avro cost event keyed by persona and resolves once Kafka has it.
 *
 * Delivery: a call resolves once every in-sync replica has the event. While the broker is away
 * the SDK keeps the event (same id, same bytes) and resends it; a caller waits, on the bounded
 * buffer if it is full, for at most SDK_DELIVERY_TIMEOUT_MS and then gets DeliveryTimeoutError.
 * A call that failed may still have been stored (`maybeStored` on the error says whether it was
 * ever sent): retry it with the same `eventId`. "Exactly once" means one row per event id in the
 * ledger: the topic can hold a second copy of an event after a resend under a new producer id,
 * and storage keeps the first. A call retried without its id is a new event.
 */
export class CostTracker {
  private readonly overrides: Overrides;
  private readonly kafka: Kafka;
  private readonly producer: BatchingProducer;
  private readonly codec: AvroCodec;
  /** Undefined until start() when the price table comes from PRICING_TABLE_URL. */
  private priceBook: PriceBook | undefined;
  private readonly topics: Topics;
  private readonly costEncoder = new CostEventEncoder();
  private readonly outcomeType: avro.Type = avroType(loadSchema('post-outcome'));
  private costSchemaId = 0;
  private outcomeSchemaId = 0;
  private started: Promise<void> | undefined;
  private ready = false;
  /** Calls made before start() finished, until they are handed to the producer. */
  private readonly pending = new Set<Promise<unknown>>();
  private readonly keys = new Map<string, Buffer>();
  private readonly validation: ValidationClock;

  constructor(private readonly options: CostTrackerOptions = {}) {
    this.overrides = options.overrides ?? {};
    this.kafka = options.kafka ?? createKafka(this.overrides, 'sdk', SDK_RETRY);
    this.codec = new AvroCodec(setting('SCHEMA_REGISTRY_URL', this.overrides), this.overrides);
    this.priceBook = options.priceBook ?? (pricingTableFileFromConfig(this.overrides) ? priceBookFromConfig(this.overrides) : undefined);
    this.topics = topics(this.overrides);
    this.validation = new ValidationClock(this.overrides);
    this.producer = new BatchingProducer(this.kafka, trackerSettings(this.overrides));
  }

  /** Connects and registers the schemas; called implicitly by the first track call. */
  start(): Promise<void> {
    if (!this.started) {
      this.started = (async () => {
        if (!this.priceBook) this.priceBook = priceBookFromConfig(this.overrides, await pricingTableFromConfig(this.overrides));
        const register = this.options.registerSchemas ?? true;
        [this.costSchemaId, this.outcomeSchemaId] = register
          ? await Promise.all([
              this.codec.register(this.topics.costEvents, loadSchema('cost-event')),
              this.codec.register(this.topics.postOutcomes, loadSchema('post-outcome')),
            ])
          : await Promise.all([this.codec.latestSchemaId(this.topics.costEvents), this.codec.latestSchemaId(this.topics.postOutcomes)]);
        await this.producer.connect();
        this.ready = true;
      })();
      this.started.catch(() => (this.started = undefined));
    }
    return this.started;
  }

  trackOpenAICost(c: OpenAICost): Promise<TrackedCost> {
    checkTokens('inputTokens', c.inputTokens);
    checkTokens('outputTokens', c.outputTokens);
    const cachedInputTokens = c.cachedInputTokens ?? 0;
    checkTokens('cachedInputTokens', cachedInputTokens);
    let attribution: Attribution = c;
    const writes = c.cacheWriteInputTokens;
    if (writes && (writes.fiveMinute || writes.oneHour)) {
      const fiveMinute = writes.fiveMinute ?? 0;
      const oneHour = writes.oneHour ?? 0;
      checkTokens('cacheWriteInputTokens.fiveMinute', fiveMinute);
      checkTokens('cacheWriteInputTokens.oneHour', oneHour);
      // Priced from metadata by the one completion path (src/events/complete-cost-event.ts).
      const metadata = { ...c.metadata };
      if (fiveMinute) metadata.cache_write_input_tokens = String(fiveMinute);
      if (oneHour) metadata.cache_write_1h_input_tokens = String(oneHour);
      attribution = { ...c, metadata };
    }
    const usage = { provider: c.provider ?? 'openai', model: c.model, input_tokens: c.inputTokens, output_tokens: c.outputTokens, cached_input_tokens: cachedInputTokens };
    return this.publishCost('openai_api', attribution, usage, null, null);
  }

  trackInfrastructureCost(c: InfrastructureCost): Promise<TrackedCost> {
    const cores = toMicro(c.cpuCores, 'cpuCores');
    const gb = toMicro(c.memoryGb, 'memoryGb');
    checkTokens('durationMs', c.durationMs);
    const usage = { resource_type: c.resourceType ?? 'kubernetes', cpu_cores: cores, memory_gb: gb, duration_ms: c.durationMs };
    return this.publishCost('kubernetes', c, null, usage, null);
  }

  trackVectorDbCost(c: VectorDbCost): Promise<TrackedCost> {
    checkTokens('units', c.units);
    const usage = { provider: c.provider ?? 'generic', operation: c.vectorOperation, units: c.units };
    return this.publishCost('vector_db', c, null, null, usage);
  }

  /**
   * Completes, prices and validates a cost event given in the schema's own form (amount and price
   * optional: priced from the usage when absent), exactly as the track calls do, and publishes it.
   * HTTP ingest and other bridges use this; it resolves once Kafka has the event.
   */
  trackCostEvent(draft: CostEventDraft): Promise<TrackedCost> {
    if (!this.priceBook) return this.tracked(this.start().then(() => this.trackCostEvent(draft)));
    const event = completeCostEvent(draft, this.priceBook, this.validation.current());
    return this.publishCompleted(event);
  }

  /** Completes, prices and validates a draft without publishing it (throws InvalidInputError naming the field). */
  completeCostEvent(draft: CostEventDraft): CostEvent {
    if (!this.priceBook) throw new InvalidInputError('pricing.not_ready', 'the price table is still loading (PRICING_TABLE_URL); call start() first');
    return completeCostEvent(draft, this.priceBook, this.validation.current());
  }

  /** Publishes an event completeCostEvent returned; resolves once Kafka has it. */
  publishCompleted(event: CostEvent): Promise<TrackedCost> {
    if (!this.ready) return this.tracked(this.start().then(() => this.sendCost(event, new Tracked(event))));
    return this.sendCost(event, new Tracked(event));
  }

  trackOutcome(o: Outcome): Promise<PostOutcome> {
    if (!this.ready) return this.tracked(this.start().then(() => this.publishOutcome(o)));
    return this.publishOutcome(o);
  }

  private publishOutcome(o: Outcome): Promise<PostOutcome> {
    const outcome: PostOutcome = {
      event_id: o.eventId ?? newEventId(),
      post_id: o.postId,
      persona_id: o.personaId,
      occurred_at: o.occurredAt ?? new Date(),
      follows: o.follows ?? 0,
      engagements: o.engagements ?? 0,
      revenue: usdToNano(o.revenueUsd ?? 0),
      currency: 'USD',
      is_final: o.final ?? false,
    };
    const value = AvroCodec.encode(this.outcomeSchemaId, this.outcomeType, outcome);
    return this.producer.send(this.topics.postOutcomes, { key: this.keyFor(o.personaId), value }, outcome.event_id, outcome);
  }

  private publishCost(
    costType: CostType, a: Attribution,
    llm: CostEvent['llm_usage'], compute: CostEvent['compute_usage'], vector: CostEvent['vector_db_usage'],
  ): Promise<TrackedCost> {
    if (!a.personaId) return Promise.reject(new InvalidInputError('persona_id.missing', 'personaId is required: costs are attributed to a persona'));
    if (!this.priceBook) return this.tracked(this.start().then(() => this.publishCost(costType, a, llm, compute, vector)));
    // The same completion, pricing and checks as HTTP ingest (src/events/complete-cost-event.ts),
    // on a draft made here in the event's field order, completed in place.
    const event = completeOwnedDraft({
      event_id: a.eventId,
      event_time: a.eventTime,
      cost_type: costType,
      amount: undefined,
      currency: 'USD',
      persona_id: a.personaId,
      post_id: a.postId ?? null,
      operation: a.operation ?? null,
      service: a.service ?? null,
      correlation_id: a.correlationId ?? null,
      request_id: a.requestId ?? null,
      llm_usage: llm,
      compute_usage: compute,
      vector_db_usage: vector,
      price: undefined,
      metadata: a.metadata ?? {},
    }, this.priceBook, this.validation.current());
    return this.publishCompleted(event);
  }

  /** Encodes once: a resend after an outage is the same bytes under the same event id. */
  private sendCost<T>(event: CostEvent, result: T): Promise<T> {
    const value = this.costEncoder.encode(this.costSchemaId, event);
    return this.producer.send(this.topics.costEvents, { key: this.keyFor(event.persona_id), value }, event.event_id, result);
  }

  private keyFor(personaId: string): Buffer {
    let key = this.keys.get(personaId);
    if (!key) {
      if (this.keys.size >= MAX_CACHED_KEYS) this.keys.clear();
      key = Buffer.from(personaId);
      this.keys.set(personaId, key);
    }
    return key;
  }

  /** Raw publish of an already-built event (replays, benchmarks, other producers' bridges). */
  publishEvent(event: CostEvent): Promise<void> {
    if (!this.ready) return this.tracked(this.start().then(() => this.sendCost(event, undefined)));
    return this.sendCost(event, undefined);
  }

  get schemaIds(): { costEvent: number; postOutcome: number } {
    return { costEvent: this.costSchemaId, postOutcome: this.outcomeSchemaId };
  }

  get bufferedEvents(): number {
    return this.producer.buffered;
  }

  /** Resolves once every track call made before it has been acknowledged (or has failed, at the latest by its delivery deadline). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.producer.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.started) await this.producer.close();
  }

  /** Remembers a call made before start() finished until it settles, so flush() covers it. */
  private tracked<T>(call: Promise<T>): Promise<T> {
    this.pending.add(call);
    const forget = () => void this.pending.delete(call);
    call.then(forget, forget);
    return call;
  }
}
