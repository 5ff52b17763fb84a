import {
  anthropicUsage, AnthropicStreamUsage, openAIChatUsage, OpenAIChatStreamUsage, openAIEmbeddingsUsage, openAIResponsesUsage,
  OpenAIResponsesStreamUsage, ReportedUsage, StreamUsage,
} from './usage';

export type RequestBody = Record<string, unknown>;

/** One instrumented client method: how to read its usage, and what to add to its request. */
export interface Endpoint {
  name: string;
  /** The usage in a whole (non-streamed) answer, or in an error body. */
  usage(body: unknown): ReportedUsage | undefined;
  /** A reader for a streamed answer to `sent`; `addedUsage`: the wrapper asked for the usage chunk. */
  streamUsage(addedUsage: boolean): StreamUsage<unknown>;
  /** The body to send, and whether the wrapper asked for usage the caller did not. */
  prepare(body: RequestBody): { body: RequestBody; addedUsage: boolean };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null;
const model = (body: Obj) => (typeof body.model === 'string' ? body.model : undefined);
const asIs = (body: RequestBody) => ({ body, addedUsage: false });

export const OPENAI_CHAT: Endpoint = {
  name: 'chat.completions',
  usage: (body) => (isObj(body) ? openAIChatUsage(body.usage, model(body)) : undefined),
  streamUsage: (addedUsage) => new OpenAIChatStreamUsage(addedUsage),
  prepare(body) {
    const options = isObj(body.stream_options) ? body.stream_options : undefined;
    if (body.stream !== true || options?.include_usage !== undefined) return asIs(body);
    return { body: { ...body, stream_options: { ...options, include_usage: true } }, addedUsage: true };
  },
};

export const OPENAI_RESPONSES: Endpoint = {
  name: 'responses',
  usage: (body) => (isObj(body) ? openAIResponsesUsage(body.usage, model(body)) : undefined),
  streamUsage: () => new OpenAIResponsesStreamUsage(),
  prepare: asIs,
};

export const OPENAI_EMBEDDINGS: Endpoint = {
  name: 'embeddings',
  usage: (body) => (isObj(body) ? openAIEmbeddingsUsage(body.usage, model(body)) : undefined),
  streamUsage: () => new OpenAIResponsesStreamUsage(), // embeddings do not stream
  prepare: asIs,
};

export const ANTHROPIC_MESSAGES: Endpoint = {
  name: 'messages',
  usage: (body) => (isObj(body) ? anthropicUsage(body.usage, model(body)) : undefined),
  streamUsage: () => new AnthropicStreamUsage(),
  prepare: asIs,
};
