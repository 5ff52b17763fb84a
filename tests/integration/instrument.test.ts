import Anthropic from '@anthropic-ai/sdk';
import Redis from 'ioredis';
import OpenAI from 'openai';
import { CostGuard, CostTracker, instrument, InvalidInputError, PausedError, withCostContext } from '../../producers';
import { setting } from '../../src/config';
import { registry } from '../../src/metrics';
import { CONTROL_KEY_PREFIX, ControlState } from '../../src/contracts/controls';
import { LlmProviderServer } from '../../testkit/llm-provider-server';
import { createTestEnv, TestEnv, uniqueId } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { trackerFor } from '../../testkit/in-process';
import { waitFor } from '../../testkit/wait-for';

/**
 * The official openai and @anthropic-ai/sdk clients, instrumented, against a local server speaking
 * their wire protocols; the costs are read back from Postgres, where the storage consumer put them
 * from Kafka. The CostGuard reads real controls from Redis.
 */
describe('instrument(): official LLM clients → cost events in the ledger', () => {
  let env: TestEnv;
  let tracker: CostTracker;
  let guard: CostGuard;
  const server = new LlmProviderServer();
  const redis = new Redis(setting('REDIS_URL'));
  const persona = uniqueId('instr');
  let openai: OpenAI;
  let anthropic: Anthropic;

  beforeAll(async () => {
    env = await createTestEnv('instrument');
    tracker = trackerFor(env);
    guard = await new CostGuard({ settings: { cacheTtlMs: 0 } }).start();
    env.cleanup(() => guard.close());
    await startStorage(env);
    await server.start();
    const options = { tracker, guard, personaId: persona, service: 'writer' };
    openai = instrument(new OpenAI({ apiKey: 'test-key', baseURL: server.openAIBaseURL, maxRetries: 0 }), options);
    anthropic = instrument(new Anthropic({ apiKey: 'test-key', baseURL: server.anthropicBaseURL, maxRetries: 0 }), options);
  });
  afterAll(async () => {
    await server.close();
    redis.disconnect();
    await env.close();
  });
  beforeEach(() => {
    server.usage = { inputTokens: 2000, outputTokens: 100, cachedInputTokens: 1024, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 };
  });

  /** finops_instrument_calls_total summed over providers and endpoints, for one result. */
  const calls = async (result: string): Promise<number> => {
    const metric = registry.getSingleMetric('finops_instrument_calls_total');
    const values = metric ? (await metric.get()).values : [];
    return values.filter((v) => v.labels.result === result).reduce((n, v) => n + v.value, 0);
  };

  const stored = (postId: string, n = 1) =>
    waitFor(
      async () => {
        const { rows } = await env.pool.query(
          `SELECT persona_id, post_id, operation, service, correlation_id, request_id, model, input_tokens::int, output_tokens::int,
                  cached_input_tokens::int, amount_usd::text, price_status, unit_prices, metadata
             FROM cost_events WHERE post_id = $1 ORDER BY event_time, request_id`,
          [postId],
        );
        return rows.length >= n ? rows : undefined;
      },
      { what: `${n} cost event(s) of ${postId} stored` },
    );

  it('a chat completion: tokens with cached input, exact price, attribution from the context', async () => {
    const post = uniqueId('chat');
    const completion = await withCostContext({ postId: post, correlationId: 'corr-1', operation: 'hook_generation' }, () =>
      openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Write a hook.' }] }),
    );
    expect(completion.choices[0].message.content).toBe('Cost is tracked per call.');
    const [row] = await stored(post);
    // gpt-4o per million: input 2.5, cached input 1.25, output 10 → 976 × 2.5 + 1024 × 1.25 + 100 × 10 = 4,720 µUSD
    expect(row).toMatchObject({
      persona_id: persona, post_id: post, operation: 'hook_generation', service: 'writer', correlation_id: 'corr-1', request_id: completion._request_id,
      model: 'gpt-4o', input_tokens: 2000, output_tokens: 100, cached_input_tokens: 1024, amount_usd: '0.004720000', price_status: 'priced',
      unit_prices: { input_mtok: '2.5', cache_read_mtok: '1.25', output_mtok: '10' },
      metadata: { endpoint: 'chat.completions', response_model: 'gpt-4o-2024-08-06' },
    });
  });

  it('a streamed chat completion: include_usage is requested, its usage chunk is not passed on, the final usage is tracked', async () => {
    const post = uniqueId('stream');
    const stream = await withCostContext({ postId: post }, () => openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [], stream: true }));
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0].delta.content ?? ''; // a usage-only chunk (no choices) would throw here
    expect(text).toBe('Cost is tracked per call.');
    expect(server.requests.at(-1)!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    const [row] = await stored(post);
    // gpt-4o-mini per million: input 0.15, cached 0.075, output 0.6 → 976 × 0.15 + 1024 × 0.075 + 100 × 0.6 = 283.2 µUSD
    expect(row).toMatchObject({ model: 'gpt-4o-mini', operation: 'chat.completions', input_tokens: 2000, output_tokens: 100, cached_input_tokens: 1024, amount_usd: '0.000283200' });
  });

  it('the Responses API, whole and streamed', async () => {
    const post = uniqueId('resp');
    server.usage = { inputTokens: 5000, outputTokens: 700, cachedInputTokens: 4096, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 };
    await withCostContext({ postId: post }, async () => {
      const whole = await openai.responses.create({ model: 'gpt-4.1-mini', input: 'Summarise.' });
      expect(whole.output_text).toBe('Cost is tracked per call.');
      const stream = await openai.responses.create({ model: 'gpt-4.1-mini', input: 'Summarise.', stream: true });
      const types: string[] = [];
      for await (const event of stream) types.push(event.type);
      expect(types.at(-1)).toBe('response.completed');
    });
    const rows = await stored(post, 2);
    // gpt-4.1-mini per million: input 0.4, cached 0.1, output 1.6 → 904 × 0.4 + 4096 × 0.1 + 700 × 1.6 = 1,891.2 µUSD
    for (const row of rows) expect(row).toMatchObject({ model: 'gpt-4.1-mini', operation: 'responses', input_tokens: 5000, cached_input_tokens: 4096, output_tokens: 700, amount_usd: '0.001891200' });
  });

  it('an embeddings call: input tokens only, at the embedding price', async () => {
    const post = uniqueId('emb');
    server.usage = { inputTokens: 1234, outputTokens: 0, cachedInputTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 };
    const result = await withCostContext({ postId: post }, () => openai.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] }));
    expect(result.data.map((d) => d.embedding.length)).toEqual([4, 4]);
    const [row] = await stored(post);
    // text-embedding-3-small: $0.02 per million → 1234 × 0.02 = 24.68 µUSD
    expect(row).toMatchObject({ model: 'text-embedding-3-small', operation: 'embeddings', input_tokens: 1234, output_tokens: 0, amount_usd: '0.000024680', unit_prices: { input_mtok: '0.02' } });
  });

  it('Anthropic messages, whole and streamed: cache reads and 5-minute and 1-hour writes at their rates', async () => {
    const post = uniqueId('claude');
    server.usage = { inputTokens: 10_000, outputTokens: 300, cachedInputTokens: 1000, cacheWrite5mTokens: 2000, cacheWrite1hTokens: 500 };
    await withCostContext({ postId: post }, async () => {
      const message = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 400, messages: [{ role: 'user', content: 'Hi' }] });
      expect(message.usage.input_tokens).toBe(6500);
      const raw = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 400, messages: [{ role: 'user', content: 'Hi' }], stream: true });
      for await (const event of raw) void event;
      const helper = anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 400, messages: [{ role: 'user', content: 'Hi' }] });
      expect((await helper.finalMessage()).usage.output_tokens).toBe(300);
    });
    const rows = await stored(post, 3);
    // claude-haiku-4-5 per million: input 1, cache read 0.1, write 1.25, 1-hour write 2, output 5:
    // 6500 × 1 + 1000 × 0.1 + 2000 × 1.25 + 500 × 2 + 300 × 5 = 11,600 µUSD
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row).toMatchObject({
        model: 'claude-haiku-4-5', operation: 'messages', input_tokens: 10_000, cached_input_tokens: 1000, output_tokens: 300, amount_usd: '0.011600000',
        unit_prices: { cache_write_mtok: '1.25', cache_write_1h_mtok: '2' }, metadata: { cache_write_input_tokens: '2000', cache_write_1h_input_tokens: '500' },
      });
      expect(row.request_id).toMatch(/^req_/);
    }
  });

  it('a stream the caller leaves early: Anthropic has reported its input usage (tracked, marked abandoned); OpenAI has reported none (no event)', async () => {
    const post = uniqueId('early');
    await withCostContext({ postId: post }, async () => {
      const claude = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 400, messages: [], stream: true });
      for await (const event of claude) if (event.type === 'content_block_delta') break;
      const gpt = await openai.chat.completions.create({ model: 'gpt-4o', messages: [], stream: true });
      for await (const chunk of gpt) if (chunk.choices[0].delta.content) break;
      server.usage = { ...server.usage, inputTokens: 10, cachedInputTokens: 0, outputTokens: 1 };
      await openai.chat.completions.create({ model: 'gpt-4o', messages: [] }); // a later event of the same persona and post
    });
    const rows = await stored(post, 2);
    await new Promise((r) => setTimeout(r, 500));
    const all = await stored(post);
    expect(all).toHaveLength(2);
    const claudeRow = rows.find((r) => r.model === 'claude-haiku-4-5');
    // message_start reported 976 uncached + 1024 read and 1 output token so far: 976 × 1 + 1024 × 0.1 + 1 × 5 = 1,083.4 µUSD
    expect(claudeRow).toMatchObject({ input_tokens: 2000, cached_input_tokens: 1024, output_tokens: 1, amount_usd: '0.001083400', metadata: { outcome: 'abandoned' } });
    expect(rows.find((r) => r.model === 'gpt-4o')).toMatchObject({ input_tokens: 10 });
  });

  describe('the CostGuard before each call', () => {
    const control = (patch: Partial<ControlState>): ControlState => ({
      persona_id: persona, level: 'switch_model', requests_per_minute: null, model_map: {}, paused_until: null, probing: false, manual: false,
      reason: 'test', anomaly_id: null, updated_at: new Date().toISOString(), expires_at: new Date(Date.now() + 60_000).toISOString(), ...patch,
    });
    afterEach(() => redis.del(CONTROL_KEY_PREFIX + persona));

    it('under switch_model the request carries the cheaper model, which is what is priced', async () => {
      await redis.set(CONTROL_KEY_PREFIX + persona, JSON.stringify(control({ model_map: { 'gpt-4o': 'gpt-3.5-turbo-0125' } })), 'PX', 60_000);
      const post = uniqueId('switch');
      server.usage = { inputTokens: 1000, outputTokens: 500, cachedInputTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 };
      await withCostContext({ postId: post }, () => openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }));
      expect(server.requests.at(-1)!.body.model).toBe('gpt-3.5-turbo-0125');
      const [row] = await stored(post);
      // gpt-3.5-turbo per million: input 0.5, output 1.5 → 1000 × 0.5 + 500 × 1.5 = 1,250 µUSD
      expect(row).toMatchObject({ model: 'gpt-3.5-turbo-0125', amount_usd: '0.001250000', metadata: { requested_model: 'gpt-4o' } });
    });

    it('under a pause the call throws PausedError and no request reaches the provider', async () => {
      await redis.set(CONTROL_KEY_PREFIX + persona, JSON.stringify(control({ level: 'pause', paused_until: new Date(Date.now() + 60_000).toISOString() })), 'PX', 60_000);
      const before = server.requests.length;
      const [refused, failed] = [await calls('refused'), await calls('failed_not_billed')];
      await expect(openai.chat.completions.create({ model: 'gpt-4o', messages: [] })).rejects.toBeInstanceOf(PausedError);
      await expect(openai.embeddings.create({ model: 'text-embedding-3-small', input: 'x' })).rejects.toBeInstanceOf(PausedError);
      await expect(anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 1, messages: [] })).rejects.toBeInstanceOf(PausedError);
      await expect(anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 1, messages: [] }).finalMessage()).rejects.toThrow(/paused/);
      expect(server.requests.length).toBe(before);
      expect([(await calls('refused')) - refused, (await calls('failed_not_billed')) - failed]).toEqual([4, 0]);
    });
  });

  it('a 429 or a 500 from the provider: the caller gets the client error and no cost event is made', async () => {
    const post = uniqueId('fail');
    const failedBefore = await calls('failed_not_billed');
    await withCostContext({ postId: post }, async () => {
      server.failNext({ status: 429 });
      await expect(openai.chat.completions.create({ model: 'gpt-4o', messages: [] })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
      server.failNext({ status: 500 });
      await expect(openai.chat.completions.create({ model: 'gpt-4o', messages: [], stream: true })).rejects.toBeInstanceOf(OpenAI.InternalServerError);
      server.failNext({ status: 429 });
      await expect(anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 1, messages: [] })).rejects.toBeInstanceOf(Anthropic.RateLimitError);
      server.failNext({ status: 500 });
      await expect(anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 1, messages: [] })).rejects.toBeInstanceOf(Anthropic.InternalServerError);
      await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'sentinel' }); // same persona, partition and post: stored after any earlier event
    });
    const rows = await stored(post);
    await new Promise((r) => setTimeout(r, 500));
    expect((await stored(post)).map((r) => r.operation)).toEqual(['embeddings']);
    expect((await calls('failed_not_billed')) - failedBefore).toBe(4);
    expect(rows).toHaveLength(1);
  });

  it('stays the client (instanceof, withOptions) and refuses a call with no persona before sending it', async () => {
    expect(openai).toBeInstanceOf(OpenAI);
    expect(anthropic).toBeInstanceOf(Anthropic);
    const post = uniqueId('opts');
    await withCostContext({ postId: post }, () => openai.withOptions({ timeout: 5000 }).embeddings.create({ model: 'text-embedding-3-small', input: 'x' }));
    expect((await stored(post))[0]).toMatchObject({ persona_id: persona, operation: 'embeddings' });
    const anonymous = instrument(new OpenAI({ apiKey: 'test-key', baseURL: server.openAIBaseURL, maxRetries: 0 }), { tracker, guard });
    const before = server.requests.length;
    await expect(anonymous.chat.completions.create({ model: 'gpt-4o', messages: [] })).rejects.toBeInstanceOf(InvalidInputError);
    expect(server.requests.length).toBe(before);
    await withCostContext({ personaId: persona, postId: post }, () => anonymous.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }));
    expect(await stored(post, 2)).toHaveLength(2);
  });

  it('a failure whose error body reports usage is tracked as billed, marked failed', async () => {
    const post = uniqueId('billed');
    server.failNext({ status: 400, body: { error: { message: 'output failed a check', type: 'invalid_request_error', param: null, code: null, usage: { prompt_tokens: 500, completion_tokens: 0 } } } });
    await withCostContext({ postId: post }, () => expect(openai.chat.completions.create({ model: 'gpt-4o', messages: [] })).rejects.toBeInstanceOf(OpenAI.BadRequestError));
    const [row] = await stored(post);
    expect(row).toMatchObject({ input_tokens: 500, output_tokens: 0, amount_usd: '0.001250000', metadata: { outcome: 'failed' } });
  });
});
