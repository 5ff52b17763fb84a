/** What the OpenAI and Anthropic clients' `APIPromise` offers beyond a Promise. */
export interface WithResponse<T> {
  data: T;
  response: Response;
  request_id: string | null | undefined;
}

export interface ProviderPromise<T> extends PromiseLike<T> {
  withResponse(): Promise<WithResponse<T>>;
  asResponse(): Promise<Response>;
}

/**
 * Stands in for the client's `APIPromise` when the request can only be sent after an asynchronous
 * step (the cost guard): `then`, `catch`, `finally`, `withResponse()`, `asResponse()` and the
 * clients' internal `_thenUnwrap()` (used by their `parse` helpers) all work. Like `APIPromise`
 * the request is under way from the start, and the body is parsed once, when first asked for.
 */
export class DeferredProviderPromise<T> extends Promise<T> {
  readonly #load: () => Promise<WithResponse<T>>;
  readonly #raw: () => Promise<Response>;
  #loaded: Promise<WithResponse<T>> | undefined;

  constructor(load: () => Promise<WithResponse<T>>, raw: () => Promise<Response>) {
    super((resolve) => resolve(null as T)); // settled at once: then/catch/finally below read #load instead
    this.#load = load;
    this.#raw = raw;
  }

  /** Builds one from the step that sends the request, and what to do with the parsed answer. */
  static after<T>(
    /** Boxed: a promise resolving to a thenable would be unwrapped. */
    send: Promise<{ sent: ProviderPromise<unknown> }>,
    finish: (answer: WithResponse<unknown>) => WithResponse<T>,
    onError: (err: unknown) => void,
    onRaw: (response: Response) => void,
  ): DeferredProviderPromise<T> {
    send.catch(() => undefined); // whoever reads the result sees the rejection; an unread one is not reported twice
    let parsed: Promise<WithResponse<T>> | undefined;
    const load = () =>
      (parsed ??= send.then(({ sent }) => sent.withResponse()).then(finish, (err) => {
        onError(err);
        throw err;
      }));
    const raw = () => send.then(({ sent }) => sent.asResponse()).then((response) => (onRaw(response), response));
    return new DeferredProviderPromise(load, raw);
  }

  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  withResponse(): Promise<WithResponse<T>> {
    return (this.#loaded ??= this.#load());
  }

  asResponse(): Promise<Response> {
    return this.#raw();
  }

  _thenUnwrap<U>(transform: (data: T, props: { response: Response }) => U): DeferredProviderPromise<U> {
    return new DeferredProviderPromise(
      () => this.withResponse().then((r) => ({ ...r, data: transform(r.data, { response: r.response }) })),
      this.#raw,
    );
  }

  override then<A = T, B = never>(onfulfilled?: ((value: T) => A | PromiseLike<A>) | null, onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.withResponse().then((r) => r.data).then(onfulfilled, onrejected);
  }

  override catch<B = never>(onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.then(undefined, onrejected);
  }

  override finally(onfinally?: (() => void) | null): Promise<T> {
    return this.withResponse().then((r) => r.data).finally(onfinally);
  }
}

/** A provider stream: async-iterable events and the AbortController that cancels its request. */
export interface ProviderStream<E> extends AsyncIterable<E> {
  controller: AbortController;
}

export type StreamEnd = 'completed' | 'abandoned' | 'failed';

/**
 * A stream of the same class as `stream` (so `tee()`, `toReadableStream()` and `controller` work)
 * that passes each event to `observe` (false: drop it) and calls `end` once when the caller has
 * read it to the end, stopped early (break, return) or it failed.
 */
export function observeStream<E, S extends ProviderStream<E>>(stream: S, observe: (event: E) => boolean, end: (how: StreamEnd, err?: unknown) => void): S {
  async function* observed(): AsyncGenerator<E> {
    let how: StreamEnd = 'abandoned';
    let failure: unknown;
    try {
      for await (const event of stream) if (observe(event)) yield event;
      how = 'completed';
    } catch (err) {
      how = 'failed';
      failure = err;
      throw err;
    } finally {
      end(how, failure);
    }
  }
  // Both clients' Stream classes are built from (iterator factory, controller).
  const StreamClass = stream.constructor as new (iterator: () => AsyncIterator<E>, controller: AbortController) => S;
  return new StreamClass(observed, stream.controller);
}
