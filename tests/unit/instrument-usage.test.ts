import { AnthropicStreamUsage, anthropicUsage, OpenAIChatStreamUsage, openAIChatUsage, OpenAIResponsesStreamUsage } from '../../producers/instrument/usage';
import { currentCostContext, withCostContext } from '../../producers';

describe('usage as the providers report it', () => {
  it('OpenAI chat: prompt tokens include the cached ones; missing details are zero', () => {
    expect(openAIChatUsage({ prompt_tokens: 2000, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 1024 } })).toMatchObject({ inputTokens: 2000, outputTokens: 5, cachedInputTokens: 1024 });
    expect(openAIChatUsage({ prompt_tokens: 7, completion_tokens: 1 })).toMatchObject({ inputTokens: 7, cachedInputTokens: 0 });
    expect(openAIChatUsage(null)).toBeUndefined();
  });

  it('Anthropic: cache reads and writes are added to input_tokens; cache_creation splits 5-minute and 1-hour writes', () => {
    expect(anthropicUsage({ input_tokens: 100, cache_read_input_tokens: 50, cache_creation_input_tokens: 30, output_tokens: 9 })).toMatchObject({
      inputTokens: 180, cachedInputTokens: 50, outputTokens: 9, cacheWrites: { fiveMinute: 30, oneHour: 0 },
    });
    expect(anthropicUsage({ input_tokens: 1, cache_read_input_tokens: null, cache_creation_input_tokens: 30, cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_1h_input_tokens: 20 }, output_tokens: 0 }))
      .toMatchObject({ inputTokens: 31, cachedInputTokens: 0, cacheWrites: { fiveMinute: 10, oneHour: 20 } });
  });

  it('an Anthropic stream: message_delta figures are cumulative and replace message_start ones field by field, nulls ignored', () => {
    const reader = new AnthropicStreamUsage();
    expect(reader.usage).toBeUndefined();
    reader.observe({ type: 'message_start', message: { model: 'claude-haiku-4-5', usage: { input_tokens: 10, cache_read_input_tokens: 4, cache_creation_input_tokens: 0, output_tokens: 1 } } });
    expect(reader.usage).toMatchObject({ inputTokens: 14, outputTokens: 1 });
    reader.observe({ type: 'message_delta', delta: {}, usage: { output_tokens: 42, input_tokens: null } });
    expect(reader.usage).toMatchObject({ inputTokens: 14, cachedInputTokens: 4, outputTokens: 42, model: 'claude-haiku-4-5' });
  });

  it('an OpenAI chat stream: usage from the usage chunk, which is hidden only when the wrapper asked for it', () => {
    const usageChunk = { choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } };
    const hidden = new OpenAIChatStreamUsage(true);
    expect(hidden.observe({ choices: [{ delta: {} }], usage: null })).toBe(true);
    expect(hidden.observe(usageChunk)).toBe(false);
    expect(hidden.usage).toMatchObject({ inputTokens: 3, outputTokens: 2 });
    expect(new OpenAIChatStreamUsage(false).observe(usageChunk)).toBe(true);
  });

  it('a Responses stream: usage from the terminal event, including response.incomplete', () => {
    const reader = new OpenAIResponsesStreamUsage();
    reader.observe({ type: 'response.created', response: { usage: null } });
    expect(reader.usage).toBeUndefined();
    reader.observe({ type: 'response.incomplete', response: { model: 'gpt-4o', usage: { input_tokens: 8, output_tokens: 16, input_tokens_details: { cached_tokens: 0 } } } });
    expect(reader.usage).toMatchObject({ inputTokens: 8, outputTokens: 16, model: 'gpt-4o' });
  });
});

describe('withCostContext', () => {
  it('nests: inner fields win, metadata merges, and the context follows awaits', async () => {
    await withCostContext({ personaId: 'p', postId: 'a', metadata: { team: 'x' } }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      await withCostContext({ postId: 'b', metadata: { step: '2' } }, async () => {
        await Promise.resolve();
        expect(currentCostContext()).toEqual({ personaId: 'p', postId: 'b', metadata: { team: 'x', step: '2' } });
      });
      expect(currentCostContext()?.postId).toBe('a');
    });
    expect(currentCostContext()).toBeUndefined();
  });
});
