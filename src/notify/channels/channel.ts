import { FinOpsError } from '../../errors';
import { ChannelName, Notification } from '../notification';
import { channelTimeout } from './timeout';

/** A failed delivery attempt. Retriable on 5xx, 429, timeouts and network faults. */
export class DeliveryError extends FinOpsError {
  constructor(
    readonly channel: ChannelName,
    message: string,
    opts: { retriable: boolean; status?: number; retryAfterMs?: number; cause?: unknown },
  ) {
    super(`${channel}: ${message}`, { retriable: opts.retriable, cause: opts.cause });
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
  readonly status?: number;
  readonly retryAfterMs?: number;
}

export interface SendResult {
  status?: number;
}

export interface Channel {
  readonly name: ChannelName;
  /** False when its URL, key or recipients are not configured: routed deliveries are skipped, audited. */
  readonly configured: boolean;
  send(n: Notification): Promise<SendResult>;
  close?(): Promise<void>;
}

/** Retry-After as seconds or an HTTP date, in ms. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** POSTs JSON with a timeout and classifies the answer. */
export async function postJson(channel: ChannelName, url: string, body: unknown, timeoutMs: number): Promise<SendResult> {
  let res: Response;
  const timeout = channelTimeout(timeoutMs);
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: timeout.signal,
    });
  } catch (err) {
    timeout.clear();
    const timedOut = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
    throw new DeliveryError(channel, timedOut ? `no answer within ${timeoutMs} ms` : `request failed: ${(err as Error).message}`, { retriable: true, cause: err });
  }
  const text = await res.text().catch(() => '');
  timeout.clear();
  if (res.ok) return { status: res.status };
  const retriable = res.status === 429 || res.status >= 500 || res.status === 408;
  throw new DeliveryError(channel, `answered ${res.status}: ${text.slice(0, 300)}`, {
    retriable,
    status: res.status,
    retryAfterMs: res.status === 429 || res.status === 503 ? parseRetryAfter(res.headers.get('retry-after')) : undefined,
  });
}
