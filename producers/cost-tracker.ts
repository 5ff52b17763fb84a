import { randomUUID } from 'node:crypto';
import type avro from 'avsc';
import { Kafka } from 'kafkajs';
import { AvroCodec, avroType } from '../src/avro/codec';
import { loadSchema } from '../src/avro/schemas';
import { enumSetting, intSetting, Overrides, setting, topics, Topics } from '../src/config';
import { CostEvent, CostType, PostOutcome } from '../src/events';
import { InvalidInputError } from '../src/errors';
import { createKafka } from '../src/kafka/client';
import { COMPRESSIONS } from '../src/kafka/codecs';
import { formatUsd, parseDecimal, usdToNano } from '../src/money';
import { PriceBook, Priced, priceBookFromConfig } from '../src/pricing';
import { BatchingProducer } from './batching-producer';

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
  /** Supply your own id to make retries of the same call idempotent end to end. */
  eventId?: string;
}

export interface OpenAICost extends Attribution {
  model: string;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
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
  eventId: string;
  nanoUsd: bigint;
  /** Exact USD decimal string. */
  amountUsd: string;
  priceStatus: CostEvent['price']['status'];
  event: CostEvent;
}

export interface CostTrackerOptions {
  overrides?: Overrides;
  kafka?: Kafka;
  priceBook?: PriceBook;
  /** Register schemas on start (default); turn off where the registry is managed elsewhere. */
  registerSchemas?: boolean;
}

function toMicro(value: string | number, field: string): bigint {
  let d;
  try {
    d = parseDecimal(value);
  } catch {
    throw new InvalidInputError(`${field}.invalid`, `${field} must be a decimal number, got ${JSON.stringify(value)}`);
  }
  if (d.units < 0n) throw new InvalidInputError(`${field}.negative`, `${field} must not be negative`);
  if (d.scale > 6) throw new InvalidInputError(`${field}.precision`, `${field} has more than 6 decimal places`);
  return d.units * 10n ** BigInt(6 - d.scale);
}

function checkTokens(field: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidInputError(`${field}.invalid`, `${field} must be a non-negative integer, got ${n}`);
}

/**
 * The SDK services use to publish what they spend. Each `track*` call prices the usage
 * exactly, publishes one Avro cost event keyed by persona and resolves once Kafka has it.
 */
export class CostTracker {
  private readonly overrides: Overrides;
  private readonly kafka: Kafka;
  private readonly producer: BatchingProducer;
  private readonly codec: AvroCodec;
  private readonly priceBook: PriceBook;
  private readonly topics: Topics;
  private readonly costType: avro.Type = avroType(loadSchema('cost-event'));
  private readonly outcomeType: avro.Type = avroType(loadSchema('post-outcome'));
  private costSchemaId = 0;
  private outcomeSchemaId = 0;
  private started: Promise<void> | undefined;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly options: CostTrackerOptions = {}) {
    this.overrides = options.overrides ?? {};
    this.kafka = options.kafka ?? createKafka(this.overrides, 'sdk');
    this.codec = new AvroCodec(setting('SCHEMA_REGISTRY_URL', this.overrides), this.overrides);
    this.priceBook = options.priceBook ?? priceBookFromConfig(this.overrides);
    this.topics = topics(this.overrides);
    this.producer = new BatchingProducer(this.kafka, {
      lingerMs: intSetting('SDK_LINGER_MS', this.overrides),
      maxBatchEvents: intSetting('SDK_MAX_BATCH_EVENTS', this.overrides, { min: 1 }),
      maxBufferedEvents: intSetting('SDK_MAX_BUFFERED_EVENTS', this.overrides, { min: 1 }),
      compression: enumSetting('SDK_COMPRESSION', COMPRESSIONS, this.overrides),
    });
  }

  /** Connects and registers the schemas; called implicitly by the first track call. */
  start(): Promise<void> {
    if (!this.started) {
      this.started = (async () => {
        const register = this.options.registerSchemas ?? true;
        [this.costSchemaId, this.outcomeSchemaId] = register
          ? await Promise.all([
              this.codec.register(this.topics.costEvents, loadSchema('cost-event')),
              this.codec.register(this.topics.postOutcomes, loadSchema('post-outcome')),
            ])
          : await Promise.all([this.codec.latestSchemaId(this.topics.costEvents), this.codec.latestSchemaId(this.topics.postOutcomes)]);
        await this.producer.connect();
      })();
      this.started.catch(() => (this.started = undefined));
    }
    return this.started;
  }

  trackOpenAICost(c: OpenAICost): Promise<TrackedCost> {
    checkTokens('inputTokens', c.inputTokens);
    checkTokens('outputTokens', c.outputTokens);
    checkTokens('cachedInputTokens', c.cachedInputTokens ?? 0);
    const provider = c.provider ?? 'openai';
    const priced = this.priceBook.llm(provider, c.model, c.inputTokens, c.outputTokens, c.cachedInputTokens ?? 0);
    return this.tracked(this.publishCost('openai_api', c, priced, {
      llm_usage: { provider, model: c.model, input_tokens: c.inputTokens, output_tokens: c.outputTokens, cached_input_tokens: c.cachedInputTokens ?? 0 },
    }));
  }

  trackInfrastructureCost(c: InfrastructureCost): Promise<TrackedCost> {
    const cores = toMicro(c.cpuCores, 'cpuCores');
    const gb = toMicro(c.memoryGb, 'memoryGb');
    checkTokens('durationMs', c.durationMs);
    const priced = this.priceBook.compute(cores, gb, c.durationMs);
    return this.tracked(this.publishCost('kubernetes', c, priced, {
      compute_usage: { resource_type: c.resourceType ?? 'kubernetes', cpu_cores: cores, memory_gb: gb, duration_ms: c.durationMs },
    }));
  }

  trackVectorDbCost(c: VectorDbCost): Promise<TrackedCost> {
    checkTokens('units', c.units);
    const priced = this.priceBook.vectorDb(c.vectorOperation, c.units);
    return this.tracked(this.publishCost('vector_db', c, priced, {
      vector_db_usage: { provider: c.provider ?? 'generic', operation: c.vectorOperation, units: c.units },
    }));
  }

  trackOutcome(o: Outcome): Promise<PostOutcome> {
    return this.tracked(this.publishOutcome(o));
  }

  private async publishOutcome(o: Outcome): Promise<PostOutcome> {
    await this.start();
    const outcome: PostOutcome = {
      event_id: o.eventId ?? randomUUID(),
      post_id: o.postId,
      persona_id: o.personaId,
      occurred_at: o.occurredAt ?? new Date(),
      follows: o.follows ?? 0,
      engagements: o.engagements ?? 0,
      revenue: usdToNano(o.revenueUsd ?? 0),
      currency: 'USD',
      is_final: o.final ?? false,
    };
    await this.producer.send(this.topics.postOutcomes, {
      key: o.personaId,
      value: AvroCodec.encode(this.outcomeSchemaId, this.outcomeType, outcome),
    });
    return outcome;
  }

  private async publishCost(costType: CostType, a: Attribution, priced: Priced, usage: Partial<CostEvent>): Promise<TrackedCost> {
    if (!a.personaId) throw new InvalidInputError('persona_id.missing', 'personaId is required: costs are attributed to a persona');
    await this.start();
    const event: CostEvent = {
      event_id: a.eventId ?? randomUUID(),
      event_time: a.eventTime ?? new Date(),
      cost_type: costType,
      amount: priced.nanoUsd,
      currency: 'USD',
      persona_id: a.personaId,
      post_id: a.postId ?? null,
      operation: a.operation ?? null,
      service: a.service ?? null,
      correlation_id: a.correlationId ?? null,
      request_id: a.requestId ?? null,
      llm_usage: null,
      compute_usage: null,
      vector_db_usage: null,
      price: priced.price,
      metadata: a.metadata ?? {},
      ...usage,
    };
    await this.producer.send(this.topics.costEvents, {
      key: event.persona_id,
      value: AvroCodec.encode(this.costSchemaId, this.costType, event),
    });
    return { eventId: event.event_id, nanoUsd: event.amount, amountUsd: formatUsd(event.amount), priceStatus: event.price.status, event };
  }

  /** Raw publish of an already-built event (replays, benchmarks, other producers' bridges). */
  publishEvent(event: CostEvent): Promise<void> {
    return this.tracked(
      this.start().then(() => this.producer.send(this.topics.costEvents, { key: event.persona_id, value: AvroCodec.encode(this.costSchemaId, this.costType, event) })),
    );
  }

  get schemaIds(): { costEvent: number; postOutcome: number } {
    return { costEvent: this.costSchemaId, postOutcome: this.outcomeSchemaId };
  }

  get bufferedEvents(): number {
    return this.producer.buffered;
  }

  /** Resolves once every track call made before it has been acknowledged (or has failed). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.producer.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.started) await this.producer.close();
  }

  /** Remembers a call until it settles, so flush() covers calls still waiting to be enqueued. */
  private tracked<T>(call: Promise<T>): Promise<T> {
    this.pending.add(call);
    const forget = () => void this.pending.delete(call);
    call.then(forget, forget);
    return call;
  }
}
