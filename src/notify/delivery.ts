import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Producer } from 'kafkajs';
import { Pool } from 'pg';
import { isTransientFault } from '../dependency-faults';
import { isRetriable } from '../errors';
import { deadLetterMessage } from '../kafka/dead-letter';
import { Logger } from '../logging';
import { keepRedisLock, releaseRedisLock, tryAcquireRedisLock } from '../redis/lock';
import { retry } from '../retry';
import { Channel, DeliveryError } from './channels';
import { notifyMetrics } from './metrics';
import { ChannelName, Notification } from './notification';
import { Semaphore } from './semaphore';
import type { NotifierSettings } from './settings';

export const SENT_PREFIX = 'finops:alerts:sent:';
export const NOTIFIED_PREFIX = 'finops:alerts:notified:';

export type DeliveryOutcome = 'delivered' | 'dead_lettered' | 'skipped' | 'duplicate';
/** A routed delivery that is not sent on its own: folded into a group summary, or into a later follow-up. */
export type SupersededOutcome = 'folded' | 'coalesced';

/** The notifier's settings (src/notify/settings.ts, but the channels, which come built) and its I/O. */
export interface DelivererOptions extends Omit<NotifierSettings, 'channels'> {
  redis: Redis;
  pool: Pool;
  dlq: Producer;
  deadLetterTopic: string;
  /** The consumer group named in dead-letter headers (the alert consumer's, or the breaker's). */
  groupId: string;
  log: Logger;
  channels: Map<ChannelName, Channel>;
}

/** Outcomes after which a (notification, channel) is never sent again. */
const FINAL = new Set(['delivered', 'dead_lettered', 'skipped', 'coalesced']);

/**
 * Delivers one notification on one channel exactly once per (alert, state, channel): a Redis claim
 * (SET NX with expiry, renewed while the delivery waits for a slot or retries, so it never lapses
 * under a live worker) keeps two workers apart, the Postgres audit row is the durable record that
 * a redelivery checks, and retries back off exponentially with jitter (honouring Retry-After).
 * Each channel has its own concurrency slots, so a hanging channel never holds up the others.
 */
export class Deliverer {
  private readonly metrics = notifyMetrics();
  private readonly slots = new Map<ChannelName, Semaphore>();

  constructor(private readonly o: DelivererOptions) {
    for (const name of o.channels.keys()) this.slots.set(name, new Semaphore(o.concurrency));
  }

  private key(n: Pick<Notification, 'alert_id' | 'sequence'>, channel: ChannelName) {
    return `${SENT_PREFIX}${n.alert_id}:${n.sequence}:${channel}`;
  }

  /** Claims the delivery; returns its token, or null if it is already done (by us earlier, or another worker). */
  private async claim(key: string, n: Notification, channel: ChannelName): Promise<string | null> {
    // Another worker on it: wait for its outcome, or for its claim to lapse.
    const token = await tryAcquireRedisLock(this.o.redis, key, {
      token: `claimed:${randomUUID()}`, ttlMs: this.o.claimTtlMs, waitMs: this.o.claimTtlMs + 1000, firstPollMs: 100, maxPollMs: 100, settled: (held) => FINAL.has(held),
    });
    if (token === null) return null;
    const { rows } = await this.o.pool.query<{ outcome: string }>('SELECT outcome FROM alert_deliveries WHERE alert_id = $1 AND sequence = $2 AND channel = $3', [n.alert_id, n.sequence, channel]);
    if (rows[0] && FINAL.has(rows[0].outcome)) {
      await this.o.redis.set(key, rows[0].outcome, 'EX', this.o.dedupTtlSeconds);
      return null;
    }
    return token;
  }

  private async audit(n: Notification, channel: ChannelName, row: { outcome: string; attempts: number; status?: number; error?: string; latencyMs?: number; firstAttemptAt?: Date }) {
    await retry(
      () =>
        this.o.pool.query(
          `INSERT INTO alert_deliveries (alert_id, sequence, channel, kind, persona_id, anomaly_type, severity, attempts, outcome, status_code, error, latency_ms, first_attempt_at)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)
           ON CONFLICT (alert_id, sequence, channel) DO UPDATE SET attempts = EXCLUDED.attempts, outcome = EXCLUDED.outcome,
             status_code = EXCLUDED.status_code, error = EXCLUDED.error, latency_ms = EXCLUDED.latency_ms, finished_at = now()
           WHERE alert_deliveries.outcome = 'folded'`,
          [n.alert_id, n.sequence, channel, n.kind, n.persona_id, n.anomaly_type, n.severity, row.attempts, row.outcome, row.status ?? null, row.error?.slice(0, 2000) ?? null, row.latencyMs ?? null, row.firstAttemptAt ?? null],
        ),
      { retries: 10, shouldRetry: isTransientFault, maxDelayMs: 2000 },
    );
  }

  /**
   * Records routed deliveries that are not sent on their own. `folded` (into a group summary) may
   * still be sent later; `coalesced` (into a later state's follow-up) is final: a replay that
   * groups the states differently never sends it alone.
   */
  async recordSuperseded(n: Notification, channels: ChannelName[], outcome: SupersededOutcome): Promise<void> {
    for (const channel of channels) {
      await retry(
        () =>
          this.o.pool.query(
            `INSERT INTO alert_deliveries (alert_id, sequence, channel, kind, persona_id, anomaly_type, severity, outcome)
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING`,
            [n.alert_id, n.sequence, channel, n.kind, n.persona_id, n.anomaly_type, n.severity, outcome],
          ),
        { retries: 10, shouldRetry: isTransientFault, maxDelayMs: 2000 },
      );
      if (outcome === 'coalesced') await this.o.redis.set(this.key(n, channel), outcome, 'EX', this.o.dedupTtlSeconds, 'NX');
      this.metrics.deliveries.inc({ channel, outcome });
    }
  }

  async deliver(n: Notification, channelName: ChannelName): Promise<DeliveryOutcome> {
    const channel = this.o.channels.get(channelName);
    const key = this.key(n, channelName);
    const token = await this.claim(key, n, channelName);
    if (token === null) {
      this.metrics.deliveries.inc({ channel: channelName, outcome: 'duplicate' });
      return 'duplicate';
    }
    if (!channel || !channel.configured) {
      await this.audit(n, channelName, { outcome: 'skipped', attempts: 0, error: `channel ${channelName} is not configured` });
      await this.o.redis.set(key, 'skipped', 'EX', this.o.dedupTtlSeconds);
      this.metrics.deliveries.inc({ channel: channelName, outcome: 'skipped' });
      return 'skipped';
    }
    const hold = keepRedisLock(this.o.redis, key, token, this.o.claimTtlMs, (err) => this.o.log.warn({ err: err.message, key }, 'could not renew a delivery claim'));
    try {
      return await this.slots.get(channelName)!.run(() => this.attempt(n, channel, key));
    } catch (err) {
      // Neither delivered nor dead-lettered (e.g. Postgres gone for good): free the claim so the redelivery can try.
      await releaseRedisLock(this.o.redis, key, token).catch(() => undefined);
      throw err;
    } finally {
      hold.stop();
    }
  }

  private async attempt(n: Notification, channel: Channel, key: string): Promise<DeliveryOutcome> {
    const firstAttemptAt = new Date();
    let attempts = 0;
    let result;
    try {
      result = await retry(
        async () => {
          attempts++;
          return channel.send(n);
        },
        {
          retries: this.o.maxAttempts - 1,
          initialDelayMs: this.o.retryInitialMs,
          maxDelayMs: this.o.retryMaxMs,
          jitter: 0.3,
          // Only what the channel calls retriable (5xx, 408, 429, timeouts, network, SMTP 4xx); another 4xx is final at once.
          shouldRetry: isRetriable,
          delayFromError: (err) => (err instanceof DeliveryError ? err.retryAfterMs : undefined),
          onRetry: (err, attempt, delayMs) => {
            this.metrics.attempts.inc({ channel: channel.name, result: 'retry' });
            this.o.log.warn({ err: (err as Error).message, alert: n.alert_id, channel: channel.name, attempt, delayMs }, 'delivery failed; retrying');
          },
        },
      );
    } catch (err) {
      return this.deadLetter(n, channel, key, err, attempts, firstAttemptAt);
    }
    const latencyMs = n.origin ? Math.max(0, Date.now() - n.origin.timestamp) : undefined;
    this.metrics.attempts.inc({ channel: channel.name, result: 'ok' });
    if (latencyMs !== undefined) this.metrics.latency.observe({ channel: channel.name }, latencyMs / 1000);
    await this.audit(n, channel.name, { outcome: 'delivered', attempts, status: result.status, latencyMs, firstAttemptAt });
    await retry(
      () =>
        this.o.redis.multi()
          .set(key, 'delivered', 'EX', this.o.dedupTtlSeconds)
          .sadd(NOTIFIED_PREFIX + n.alert_id, channel.name)
          .expire(NOTIFIED_PREFIX + n.alert_id, this.o.dedupTtlSeconds)
          .exec(),
      { retries: 10, shouldRetry: isTransientFault, maxDelayMs: 2000 },
    );
    this.metrics.deliveries.inc({ channel: channel.name, outcome: 'delivered' });
    return 'delivered';
  }

  private async deadLetter(n: Notification, channel: Channel, key: string, err: unknown, attempts: number, firstAttemptAt: Date): Promise<DeliveryOutcome> {
    this.metrics.attempts.inc({ channel: channel.name, result: 'failed' });
    const reason = isRetriable(err) ? 'alert.delivery_retries_exhausted' : 'alert.delivery_refused';
    this.o.log.error({ err: (err as Error).message, alert: n.alert_id, channel: channel.name, attempts }, 'delivery failed for good; dead-lettering it');
    const o = n.origin;
    const message = deadLetterMessage({
      topic: o?.topic ?? 'internal',
      partition: o?.partition ?? -1,
      offset: o?.offset ?? n.alert_id,
      reason,
      error: (err as Error).message,
      key: o?.key ?? Buffer.from(n.persona_id),
      value: o?.value ?? Buffer.from(JSON.stringify({ alert_id: n.alert_id, summary: n.summary })),
      headers: { 'alert.id': n.alert_id, 'alert.sequence': String(n.sequence), 'alert.channel': channel.name, 'alert.attempts': String(attempts) },
      consumerGroup: this.o.groupId,
    });
    message.key = `${message.key}/${channel.name}`;
    await retry(() => this.o.dlq.send({ topic: this.o.deadLetterTopic, acks: -1, messages: [message] }), { retries: 10, shouldRetry: isTransientFault });
    await this.audit(n, channel.name, { outcome: 'dead_lettered', attempts, status: (err as DeliveryError).status, error: (err as Error).message, firstAttemptAt });
    await this.o.redis.set(key, 'dead_lettered', 'EX', this.o.dedupTtlSeconds);
    this.metrics.deliveries.inc({ channel: channel.name, outcome: 'dead_lettered' });
    return 'dead_lettered';
  }

  async close(): Promise<void> {
    for (const c of this.o.channels.values()) await c.close?.();
  }
}
