import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server speaking the OpenAI (chat completions, responses, embeddings) and Anthropic
 * (messages) wire protocols, JSON and SSE streams, with the response bodies and usage fields the
 * real APIs send, for the official clients to be pointed at (`baseURL`). It records each request
 * it answers and can be told to fail the next ones with a provider error.
 */
export interface ProviderUsage {
  /** Every input token, cache reads and writes included. */
  inputTokens: number;
  outputTokens: number;
  /** Input tokens read from the prompt cache. */
  cachedInputTokens: number;
  /** Input tokens written to the prompt cache for 5 minutes / 1 hour (Anthropic). */
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
}

export interface RecordedRequest {
  path: string;
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
}

export interface ProviderFailure {
  status: number;
  /** The error body; the provider's usual one for the status when omitted. */
  body?: unknown;
}

export const DEFAULT_USAGE: ProviderUsage = { inputTokens: 1200, outputTokens: 80, cachedInputTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 };
/** The dated snapshot OpenAI answers with for an alias. */
const SNAPSHOTS: Record<string, string> = { 'gpt-4o': 'gpt-4o-2024-08-06', 'gpt-4o-mini': 'gpt-4o-mini-2024-07-18' };
const WORDS = ['Cost', ' is', ' tracked', ' per', ' call', '.'];

export class LlmProviderServer {
  readonly requests: RecordedRequest[] = [];
  usage: ProviderUsage = { ...DEFAULT_USAGE };
  /** Keep the last this many requests only (benchmarks send many). */
  maxRecorded = 1000;
  private readonly failures: ProviderFailure[] = [];
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private seq = 0;

  async start(): Promise<this> {
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** baseURL for `new OpenAI({ baseURL })`. */
  get openAIBaseURL(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** baseURL for `new Anthropic({ baseURL })`. */
  get anthropicBaseURL(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The next `times` requests are answered with this error. */
  failNext(failure: ProviderFailure, times = 1): void {
    for (let i = 0; i < times; i++) this.failures.push(failure);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
      } catch {
        const text = JSON.stringify({ error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error', param: null, code: null } });
        res.writeHead(400, { 'content-type': 'application/json' });
        return void res.end(text);
      }
      const path = (req.url ?? '').split('?')[0];
      this.requests.push({ path, body, headers: req.headers });
      if (this.requests.length > this.maxRecorded) this.requests.shift();
      const failure = this.failures.shift();
      const answer = failure ? failureAnswer(path, failure) : providerAnswer(path, body, this.usage, `${Date.now().toString(36)}${(++this.seq).toString(36)}`);
      res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.text) });
      res.end(answer.text);
    });
  }
}

/** One answer as the provider would send it: status, headers and the body text (JSON, or SSE for a stream). */
export interface ProviderAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

const requestIds = (path: string, id: string): Record<string, string> => (path === '/v1/messages' ? { 'request-id': `req_${id}` } : { 'x-request-id': `req_${id}` });
const json = (status: number, body: unknown, headers: Record<string, string>): ProviderAnswer => ({ status, headers: { 'content-type': 'application/json', ...headers }, text: JSON.stringify(body) });

/** Server-sent events: `event:` lines where the provider names them (Responses, Anthropic), then `data:`. */
function sse(events: { event?: string; data: unknown }[], headers: Record<string, string>): ProviderAnswer {
  let text = '';
  for (const e of events) text += `${e.event ? `event: ${e.event}\n` : ''}data: ${typeof e.data === 'string' ? e.data : JSON.stringify(e.data)}\n\n`;
  return { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers }, text };
}

/** The provider's error answer for a failure. */
export function failureAnswer(path: string, failure: ProviderFailure): ProviderAnswer {
  const anthropic = path === '/v1/messages';
  return json(failure.status, failure.body ?? errorBody(anthropic, failure.status), { ...requestIds(path, 'failed'), 'x-should-retry': 'false' });
}

/** The answer to a request on `path` (e.g. /v1/chat/completions) with this body, reporting `usage`. */
export function providerAnswer(path: string, body: Record<string, unknown>, usage: ProviderUsage, id: string): ProviderAnswer {
  const ids = requestIds(path, id);
  switch (path) {
    case '/v1/chat/completions':
      return body.stream ? sse(chatChunks(id, body, usage), ids) : json(200, chatCompletion(id, body, usage), ids);
    case '/v1/responses':
      return body.stream ? sse(responseEvents(id, body, usage), ids) : json(200, response(id, body, usage, 'completed'), ids);
    case '/v1/embeddings':
      return json(200, embeddings(body, usage), ids);
    case '/v1/messages':
      return body.stream ? sse(messageEvents(id, body, usage), ids) : json(200, message(id, body, usage), ids);
    default:
      return json(404, { error: { message: `Invalid URL (POST ${path})`, type: 'invalid_request_error', param: null, code: null } }, ids);
  }
}

function errorBody(anthropic: boolean, status: number): unknown {
  const [type, message] =
    status === 429 ? ['rate_limit_error', 'Rate limit reached for requests'] : status === 529 ? ['overloaded_error', 'Overloaded'] : status >= 500 ? ['api_error', 'Internal server error'] : ['invalid_request_error', 'Invalid request'];
  if (anthropic) return { type: 'error', error: { type, message }, request_id: null };
  return { error: { message, type: status === 429 ? 'requests' : type, param: null, code: status === 429 ? 'rate_limit_exceeded' : null } };
}

const modelOf = (body: Record<string, unknown>) => String(body.model ?? '');
const now = () => Math.floor(Date.now() / 1000);

function chatUsage(u: ProviderUsage) {
  return {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cachedInputTokens, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function chatCompletion(id: string, body: Record<string, unknown>, u: ProviderUsage) {
  const model = SNAPSHOTS[modelOf(body)] ?? modelOf(body);
  return {
    id: `chatcmpl-${id}`, object: 'chat.completion', created: now(), model,
    choices: [{ index: 0, message: { role: 'assistant', content: WORDS.join(''), refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage: chatUsage(u), service_tier: 'default', system_fingerprint: 'fp_07871e2ad8',
  };
}

function chatChunks(id: string, body: Record<string, unknown>, u: ProviderUsage): { data: unknown }[] {
  const events: { data: unknown }[] = [];
  const model = SNAPSHOTS[modelOf(body)] ?? modelOf(body);
  const withUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const base = { id: `chatcmpl-${id}`, object: 'chat.completion.chunk', created: now(), model, service_tier: 'default', system_fingerprint: 'fp_07871e2ad8' };
  const chunk = (delta: object, finish: string | null) => ({
    data: { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(withUsage ? { usage: null } : {}) },
  });
  events.push(chunk({ role: 'assistant', content: '', refusal: null }, null), ...WORDS.map((w) => chunk({ content: w }, null)), chunk({}, 'stop'));
  if (withUsage) events.push({ data: { ...base, choices: [], usage: chatUsage(u) } });
  events.push({ data: '[DONE]' });
  return events;
}

function responseUsage(u: ProviderUsage) {
  return {
    input_tokens: u.inputTokens, input_tokens_details: { cached_tokens: u.cachedInputTokens },
    output_tokens: u.outputTokens, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: u.inputTokens + u.outputTokens,
  };
}

function response(id: string, body: Record<string, unknown>, u: ProviderUsage, status: 'in_progress' | 'completed') {
  const done = status === 'completed';
  return {
    id: `resp_${id}`, object: 'response', created_at: now(), status, background: false, error: null, incomplete_details: null,
    instructions: body.instructions ?? null, max_output_tokens: body.max_output_tokens ?? null, model: SNAPSHOTS[modelOf(body)] ?? modelOf(body),
    output: done ? [{ id: `msg_${id}`, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', annotations: [], logprobs: [], text: WORDS.join('') }] }] : [],
    parallel_tool_calls: true, previous_response_id: null, reasoning: { effort: null, summary: null }, service_tier: 'default', store: true,
    temperature: 1, text: { format: { type: 'text' }, verbosity: 'medium' }, tool_choice: 'auto', tools: [], top_p: 1, truncation: 'disabled',
    usage: done ? responseUsage(u) : null, user: null, metadata: {},
  };
}

function responseEvents(id: string, body: Record<string, unknown>, u: ProviderUsage): { event: string; data: unknown }[] {
  let n = 0;
  const ev = (type: string, rest: object) => ({ event: type, data: { type, sequence_number: n++, ...rest } });
  const item = { id: `msg_${id}`, type: 'message', status: 'in_progress', role: 'assistant', content: [] };
  return [
    ev('response.created', { response: response(id, body, u, 'in_progress') }),
    ev('response.in_progress', { response: response(id, body, u, 'in_progress') }),
    ev('response.output_item.added', { output_index: 0, item }),
    ev('response.content_part.added', { item_id: item.id, output_index: 0, content_index: 0, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } }),
    ...WORDS.map((w) => ev('response.output_text.delta', { item_id: item.id, output_index: 0, content_index: 0, delta: w, logprobs: [] })),
    ev('response.output_text.done', { item_id: item.id, output_index: 0, content_index: 0, text: WORDS.join(''), logprobs: [] }),
    ev('response.completed', { response: response(id, body, u, 'completed') }),
  ];
}

function embeddings(body: Record<string, unknown>, u: ProviderUsage) {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const vector = new Float32Array([0.0023064255, -0.009327292, 0.015797347, -0.0077780345]);
  const embedding = body.encoding_format === 'base64' ? Buffer.from(vector.buffer).toString('base64') : Array.from(vector);
  return {
    object: 'list', data: inputs.map((_, index) => ({ object: 'embedding', index, embedding })),
    model: modelOf(body), usage: { prompt_tokens: u.inputTokens, total_tokens: u.inputTokens },
  };
}

/** Anthropic's input_tokens leave out the cache reads and writes, which it counts apart. */
function anthropicUsage(u: ProviderUsage, outputTokens: number) {
  const written = u.cacheWrite5mTokens + u.cacheWrite1hTokens;
  return {
    input_tokens: u.inputTokens - u.cachedInputTokens - written,
    cache_creation_input_tokens: written,
    cache_read_input_tokens: u.cachedInputTokens,
    cache_creation: { ephemeral_5m_input_tokens: u.cacheWrite5mTokens, ephemeral_1h_input_tokens: u.cacheWrite1hTokens },
    output_tokens: outputTokens,
    service_tier: 'standard',
  };
}

function message(id: string, body: Record<string, unknown>, u: ProviderUsage) {
  return {
    id: `msg_${id}`, type: 'message', role: 'assistant', model: modelOf(body),
    content: [{ type: 'text', text: WORDS.join('') }], stop_reason: 'end_turn', stop_sequence: null, usage: anthropicUsage(u, u.outputTokens),
  };
}

function messageEvents(id: string, body: Record<string, unknown>, u: ProviderUsage): { event: string; data: unknown }[] {
  const ev = (type: string, rest: object) => ({ event: type, data: { type, ...rest } });
  return [
    ev('message_start', { message: { ...message(id, body, u), content: [], stop_reason: null, usage: anthropicUsage(u, 1) } }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('ping', {}),
    ...WORDS.map((w) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: w } })),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: u.outputTokens } }),
    ev('message_stop', {}),
  ];
}
