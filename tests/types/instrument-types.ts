/**
 * Compile-time checks (run by `npx tsc --noEmit -p .`, never executed): an instrumented client is
 * still the client's own type, with its overloads, and a non-client is refused.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI, { AzureOpenAI } from 'openai';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { Stream } from 'openai/streaming';
import { instrument } from '../../producers';

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
const same = <A, B>(proof: Equal<A, B>): Equal<A, B> => proof;

export async function typeChecks(): Promise<void> {
  const openai = instrument(new OpenAI(), { personaId: 'p' });
  same<typeof openai, OpenAI>(true);
  const azure = instrument(new AzureOpenAI({ apiVersion: 'x' }));
  same<typeof azure, AzureOpenAI>(true);
  const anthropic = instrument(new Anthropic());
  same<typeof anthropic, Anthropic>(true);

  // The overloads still pick the answer type from `stream`.
  const completion = await openai.chat.completions.create({ model: 'gpt-4o', messages: [] });
  same<typeof completion, ChatCompletion & { _request_id?: string | null }>(true);
  const chunks = await openai.chat.completions.create({ model: 'gpt-4o', messages: [], stream: true });
  same<typeof chunks, Stream<ChatCompletionChunk> & { _request_id?: string | null }>(true);
  const message = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [] });
  same<typeof message.usage.cache_read_input_tokens, number | null>(true);

  // @ts-expect-error a wrong field is still an error through the wrapper
  await openai.embeddings.create({ model: 'text-embedding-3-small', inputs: 'x' });
  // @ts-expect-error not an LLM client
  instrument({ query: () => 1 });
  // @ts-expect-error the wrapper does not make a client something else
  same<typeof openai, Anthropic>(true);
}
