/**
 * What a provider reported a call used, read from its response bodies and stream events
 * (pure functions, no I/O). Input tokens count every input token, cached ones included, as the
 * price book expects.
 */
export interface ReportedUsage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  cacheWrites: { fiveMinute: number; oneHour: number };
  /** The model the provider says answered, when it says. */
  model?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null;
const count = (v: unknown): number => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : 0);
const modelOf = (body: Obj): string | undefined => (typeof body.model === 'string' ? body.model : undefined);
const NO_WRITES = Object.freeze({ fiveMinute: 0, oneHour: 0 });

/** Chat Completions `usage` (also the last chunk of a stream with include_usage). */
export function openAIChatUsage(usage: unknown, model?: string): ReportedUsage | undefined {
  if (!isObj(usage)) return undefined;
  const details = isObj(usage.prompt_tokens_details) ? usage.prompt_tokens_details : {};
  return { inputTokens: count(usage.prompt_tokens), outputTokens: count(usage.completion_tokens), cachedInputTokens: count(details.cached_tokens), cacheWrites: NO_WRITES, model };
}

/** Responses API `usage`. */
export function openAIResponsesUsage(usage: unknown, model?: string): ReportedUsage | undefined {
  if (!isObj(usage)) return undefined;
  const details = isObj(usage.input_tokens_details) ? usage.input_tokens_details : {};
  return { inputTokens: count(usage.input_tokens), outputTokens: count(usage.output_tokens), cachedInputTokens: count(details.cached_tokens), cacheWrites: NO_WRITES, model };
}

/** Embeddings `usage`: input only. */
export function openAIEmbeddingsUsage(usage: unknown, model?: string): ReportedUsage | undefined {
  if (!isObj(usage)) return undefined;
  return { inputTokens: count(usage.prompt_tokens), outputTokens: 0, cachedInputTokens: 0, cacheWrites: NO_WRITES, model };
}

/**
 * Anthropic `usage`. Its input_tokens exclude cache reads and writes, which it reports apart;
 * cache_creation, when present, splits the writes into 5-minute and 1-hour ones.
 */
export function anthropicUsage(usage: unknown, model?: string): ReportedUsage | undefined {
  if (!isObj(usage)) return undefined;
  const read = count(usage.cache_read_input_tokens);
  const written = count(usage.cache_creation_input_tokens);
  let cacheWrites = { fiveMinute: written, oneHour: 0 };
  if (isObj(usage.cache_creation)) {
    const oneHour = Math.min(count(usage.cache_creation.ephemeral_1h_input_tokens), written);
    cacheWrites = { fiveMinute: written - oneHour, oneHour };
  }
  return { inputTokens: count(usage.input_tokens) + read + written, outputTokens: count(usage.output_tokens), cachedInputTokens: read, cacheWrites, model };
}

/** Reads a usage report out of stream events; `usage` is what the provider has reported so far. */
export interface StreamUsage<E> {
  /** Returns false for an event the caller should not see (the usage chunk the wrapper asked for). */
  observe(event: E): boolean;
  readonly usage: ReportedUsage | undefined;
}

/** Chat Completions chunks: usage is on the last chunk only, and only with stream_options.include_usage. */
export class OpenAIChatStreamUsage implements StreamUsage<unknown> {
  usage: ReportedUsage | undefined;
  /** `hideUsageChunk`: the caller did not ask for usage, so the usage-only chunk is not passed on. */
  constructor(private readonly hideUsageChunk: boolean) {}
  observe(chunk: unknown): boolean {
    if (!isObj(chunk) || !isObj(chunk.usage)) return true;
    this.usage = openAIChatUsage(chunk.usage, modelOf(chunk));
    return !(this.hideUsageChunk && Array.isArray(chunk.choices) && chunk.choices.length === 0);
  }
}

const RESPONSE_TERMINAL_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/** Responses API events: the terminal event (completed, incomplete or failed) carries the response and its usage. */
export class OpenAIResponsesStreamUsage implements StreamUsage<unknown> {
  usage: ReportedUsage | undefined;
  observe(event: unknown): boolean {
    if (isObj(event) && typeof event.type === 'string' && RESPONSE_TERMINAL_EVENTS.has(event.type) && isObj(event.response)) {
      this.usage = openAIResponsesUsage(event.response.usage, modelOf(event.response)) ?? this.usage;
    }
    return true;
  }
}

/**
 * Anthropic message events: message_start carries the input usage (and a first output count),
 * each message_delta the cumulative figures so far, which replace the earlier ones field by field.
 */
export class AnthropicStreamUsage implements StreamUsage<unknown> {
  private raw: Obj | undefined;
  private model: string | undefined;
  observe(event: unknown): boolean {
    if (!isObj(event)) return true;
    if (event.type === 'message_start' && isObj(event.message) && isObj(event.message.usage)) {
      this.raw = { ...event.message.usage };
      this.model = modelOf(event.message);
    } else if (event.type === 'message_delta' && isObj(event.usage)) {
      const merged: Obj = { ...this.raw };
      for (const [key, value] of Object.entries(event.usage)) if (value !== null && value !== undefined) merged[key] = value;
      this.raw = merged;
    }
    return true;
  }
  get usage(): ReportedUsage | undefined {
    return this.raw ? anthropicUsage(this.raw, this.model) : undefined;
  }
}
