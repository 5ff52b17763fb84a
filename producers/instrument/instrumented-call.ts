import { InvalidInputError } from '../../src/errors';
import { logger } from '../../src/logging';
import { counter } from '../../src/metrics';
import type { CostGuard } from '../cost-guard';
import type { CostTracker, TrackedCost } from '../cost-tracker';
import { CostContext, currentCostContext, merge } from './context';
import { DeferredProviderPromise, observeStream, ProviderPromise, ProviderStream, StreamEnd, WithResponse } from './deferred-promise';
import { Endpoint, RequestBody } from './endpoints';
import { ReportedUsage } from './usage';

export interface InstrumentOptions extends CostContext {
  /** Where costs go; the process's shared CostTracker (configured from the environment) when omitted. */
  tracker?: Pick<CostTracker, 'trackOpenAICost'>;
  /** Asked before each call; the shared CostGuard when omitted; `false`: no guard. */
  guard?: Pick<CostGuard, 'acquire'> | false;
  /** Longest wait for a throttle token before ThrottledError (the guard's GUARD_MAX_WAIT_MS when omitted). */
  maxGuardWaitMs?: number;
  /** The price table's provider id (default: openai, or anthropic for an Anthropic client). */
  provider?: string;
  /** Called with each tracked cost once Kafka has it. */
  onTracked?: (cost: TrackedCost) => void;
  /** Called when a cost could not be tracked (the model call itself has succeeded); logs a warning when omitted. */
  onTrackError?: (err: unknown) => void;
}

/** What all instrumented methods of one client share. */
export interface Runtime {
  provider: string;
  defaults: CostContext;
  options: InstrumentOptions;
  tracker: () => Pick<CostTracker, 'trackOpenAICost'>;
  guard: () => Pick<CostGuard, 'acquire'> | Promise<Pick<CostGuard, 'acquire'>> | undefined;
}

type Result = 'tracked' | 'usage_not_reported' | 'failed_not_billed' | 'failed_billed' | 'refused';

const log = logger('instrument');
const calls = () =>
  counter('finops_instrument_calls_total', 'Instrumented LLM calls, by provider, endpoint and result (tracked, usage_not_reported, failed_not_billed, failed_billed, refused).', ['provider', 'endpoint', 'result']);
const trackErrors = () => counter('finops_instrument_track_errors_total', 'Instrumented LLM calls whose cost could not be published.', ['provider']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null;
const isStream = (v: unknown): v is ProviderStream<unknown> => isObj(v) && Symbol.asyncIterator in v && v.controller instanceof AbortController;

/** The usage an error response reported, if any: a provider bills a failed call only then. */
function billedUsage(endpoint: Endpoint, err: unknown): ReportedUsage | undefined {
  if (!isObj(err) || !isObj(err.error)) return undefined;
  const body = err.error;
  if (isObj(body.usage)) return endpoint.usage(body);
  return isObj(body.error) && isObj(body.error.usage) ? endpoint.usage(body.error) : undefined;
}

/** One model call: what was asked and sent, and its cost, tracked at most once. */
class Call {
  private sentModel = '';
  private requestedModel = '';
  private addedUsage = false;
  private done = false;

  constructor(private readonly rt: Runtime, private readonly endpoint: Endpoint, private readonly who: CostContext) {}

  async send(create: (body: RequestBody, options: unknown) => ProviderPromise<unknown>, body: RequestBody, options: unknown): Promise<{ sent: ProviderPromise<unknown> }> {
    const personaId = this.who.personaId;
    if (!personaId) {
      this.refuse();
      throw new InvalidInputError('persona_id.missing', 'instrumented call without a personaId: pass it to instrument(client, { personaId }) or run the call inside withCostContext({ personaId }, fn)');
    }
    this.requestedModel = this.sentModel = typeof body.model === 'string' ? body.model : '';
    const guard = await this.rt.guard();
    if (guard) {
      try {
        // The service and tags its cost event will carry (see track below): their budgets' controls apply too.
        const tags = { ...this.who.metadata, endpoint: this.endpoint.name };
        const decision = await guard.acquire(personaId, this.requestedModel, { maxWaitMs: this.rt.options.maxGuardWaitMs, service: this.who.service, tags });
        if (decision.model !== this.requestedModel && this.requestedModel) {
          this.sentModel = decision.model;
          body = { ...body, model: decision.model };
        }
      } catch (err) {
        this.refuse();
        throw err;
      }
    }
    const prepared = this.endpoint.prepare(body);
    this.addedUsage = prepared.addedUsage;
    return { sent: create(prepared.body, options) };
  }

  finish(answer: WithResponse<unknown>): WithResponse<unknown> {
    const { data } = answer;
    if (!isStream(data)) {
      this.track(this.endpoint.usage(data), answer.request_id, 'completed');
      return answer;
    }
    const reader = this.endpoint.streamUsage(this.addedUsage);
    const stream = observeStream(data, (event) => reader.observe(event), (how) => this.track(reader.usage, answer.request_id, how));
    return { ...answer, data: stream };
  }

  failed(err: unknown): void {
    if (this.done) return;
    const usage = billedUsage(this.endpoint, err);
    if (usage) this.track(usage, isObj(err) && typeof err.requestID === 'string' ? err.requestID : undefined, 'failed');
    else this.count('failed_not_billed');
    this.done = true;
  }

  /** A caller that reads the raw Response: a JSON answer is tracked from a copy of its body. */
  raw(response: Response): void {
    if (this.done || !(response.headers.get('content-type') ?? '').includes('application/json')) return;
    const requestId = response.headers.get('x-request-id') ?? response.headers.get('request-id');
    response.clone().json().then(
      (body) => this.track(this.endpoint.usage(body), requestId, 'completed'),
      () => undefined,
    );
  }

  private track(usage: ReportedUsage | undefined, requestId: string | null | undefined, how: StreamEnd | 'failed'): void {
    if (this.done) return;
    this.done = true;
    if (!usage) {
      this.count(how === 'failed' ? 'failed_not_billed' : 'usage_not_reported');
      if (how !== 'failed') log.warn({ endpoint: this.endpoint.name, how }, 'the provider reported no usage for this call: no cost event');
      return;
    }
    const w = this.who;
    const metadata: Record<string, string> = { ...w.metadata, endpoint: this.endpoint.name };
    if (this.sentModel !== this.requestedModel) metadata.requested_model = this.requestedModel;
    if (usage.model && usage.model !== this.sentModel) metadata.response_model = usage.model;
    if (how !== 'completed') metadata.outcome = how;
    this.count(how === 'failed' ? 'failed_billed' : 'tracked');
    const model = this.sentModel || usage.model || '';
    try {
      this.rt
        .tracker()
        .trackOpenAICost({
          personaId: w.personaId!, postId: w.postId, operation: w.operation ?? this.endpoint.name, service: w.service, correlationId: w.correlationId,
          requestId: requestId ?? undefined, metadata, provider: this.rt.provider, model,
          inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, cachedInputTokens: usage.cachedInputTokens, cacheWriteInputTokens: usage.cacheWrites,
        })
        .then((cost) => this.rt.options.onTracked?.(cost), (err) => this.trackFailed(err));
    } catch (err) {
      this.trackFailed(err);
    }
  }

  private trackFailed(err: unknown): void {
    trackErrors().inc({ provider: this.rt.provider });
    if (this.rt.options.onTrackError) this.rt.options.onTrackError(err);
    else log.warn({ err, endpoint: this.endpoint.name, personaId: this.who.personaId }, 'could not track the cost of an LLM call');
  }

  /** Not sent (no persona, paused, throttled, guard unavailable): counted once, never tracked. */
  private refuse(): void {
    this.done = true;
    this.count('refused');
  }

  private count(result: Result): void {
    calls().inc({ provider: this.rt.provider, endpoint: this.endpoint.name, result });
  }
}

/** `create` as the client has it, made to ask the guard first and to track the cost after. */
export function instrumentCreate(
  original: (body: RequestBody, options: unknown) => ProviderPromise<unknown>,
  endpoint: Endpoint,
  rt: Runtime,
): (body: RequestBody, options?: unknown) => DeferredProviderPromise<unknown> {
  return function instrumentedCreate(body, options) {
    const call = new Call(rt, endpoint, merge(rt.defaults, currentCostContext()));
    return DeferredProviderPromise.after(
      call.send(original, body, options),
      (answer) => call.finish(answer),
      (err) => call.failed(err),
      (response) => call.raw(response),
    );
  };
}
