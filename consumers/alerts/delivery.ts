import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Producer } from 'kafkajs';
import { Pool } from 'pg';
import { isRetriable } from '../../src/errors';
import { deadLetterMessage } from '../../src/kafka/dead-letter';
import { Logger } from '../../src/logging';
import { retry, sleep } from '../../src/retry';
import { Channel, DeliveryError } from './channels';
import { alertMetrics } from './metrics';
import { Notification } from './notification';
import { ChannelName } from './routing';
import { Semaphore } from './semaphore';

export const SENT_PREFIX = 'finops:alerts:sent:';
export const NOTIFIED_PREFIX = 'finops:alerts:notified:';

export type DeliveryOutcome = 'delivered' | 'dead_lettered' | 'skipped' | 'duplicate';

export interface DelivererOptions {
  redis: Redis;
  pool: Pool;
  dlq: Producer;
  deadLetterTopic: string;
  groupId: string;
  log: Logger;
  channels: Map<ChannelName, Channel>;
  maxAttempts: number;
  retryInitialMs: number;
  retryMaxMs: number;
  claimTtlMs: number;
  dedupTtlSeconds: number;
  concurrency: number;
}

const FINAL = new Set(['delivered', 'dead_lettered', 'skipped']);

/**
 * Delivers one notification on one channel exactly once per (alert, state, channel): a Redis claim
 * (SET NX with expiry) keeps two workers apart, the Postgres audit row is the durable record that
 * a redelivery checks, and retries back off exponentially with jitter (honouring Retry-After).
 * Each channel has its own concurrency slots, so a hanging channel never holds up the others.
 */
export class Deliverer {
  private readonly metrics = alertMetrics();
  private readonly slots = new Map<ChannelName, Semaphore>();

  constructor(private readonly o: DelivererOptions) {
    for (const name of o.channels.keys()) this.slots.set(name, new Semaphore(o.concurrency));
  }

  private key(n: Notification, channel: ChannelName) {
    return `${SENT_PREFIX}${n.alert_id}:${n.sequence}:${channel}`;
  }

  /** Claims the delivery; returns false if it is already done (by us earlier, or another worker). */
  private async claim(key: string, n: Notification, channel: ChannelName): Promise<boolean> {
    const token = `claimed:${randomUUID()}`;
    const deadline = Date.now() + this.o.claimTtlMs + 1000;
    for (;;) {
      if ((await this.o.redis.set(key, token, 'PX', this.o.claimTtlMs, 'NX')) === 'OK') break;
      const held = await this.o.redis.get(key);
      if (held && FINAL.has(held)) return false;
      if (Date.now() > deadline) throw new Error(`delivery claim ${key} never released`);
      await sleep(100); // another worker is on it; wait for its outcome or its claim to lapse
    }
    const { rows } = await this.o.pool.query<{ outcome: string }>('SELECT outcome FROM alert_deliveries WHERE alert_id = $1 AND sequence = $2 AND channel = $3', [n.alert_id, n.sequence, channel]);
    if (rows[0] && FINAL.has(rows[0].outcome)) {
      await this.o.redis.set(key, rows[0].outcome, 'EX', this.o.dedupTtlSeconds);
      return false;
    }
    return true;
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
      { retries: 10, shouldRetry: () => true, maxDelayMs: 2000 },
    );
  }

  /** Records a routed delivery folded into a group summary. */
  async recordFolded(n: Notification, channels: ChannelName[]): Promise<void> {
    for (const channel of channels) {
      await this.o.pool.query(
        `INSERT INTO alert_deliveries (alert_id, sequence, channel, kind, persona_id, anomaly_type, severity, outcome)
         VALUES ($1,$2,$3,$4,$5,$6,$7,'folded') ON CONFLICT DO NOTHING`,
        [n.alert_id, n.sequence, channel, n.kind, n.persona_id, n.anomaly_type, n.severity],
      );
      this.metrics.deliveries.inc({ channel, outcome: 'folded' });
    }
  }

  async deliver(n: Notification, channelName: ChannelName): Promise<DeliveryOutcome> {
    const channel = this.o.channels.get(channelName);
    const key = this.key(n, channelName);
    if (!(await this.claim(key, n, channelName))) {
      this.metrics.deliveries.inc({ channel: channelName, outcome: 'duplicate' });
      return 'duplicate';
    }
    if (!channel || !channel.configured) {
      await this.audit(n, channelName, { outcome: 'skipped', attempts: 0, error: `channel ${channelName} is not configured` });
      await this.o.redis.set(key, 'skipped', 'EX', this.o.dedupTtlSeconds);
      this.metrics.deliveries.inc({ channel: channelName, outcome: 'skipped' });
      return 'skipped';
    }
    return this.slots.get(channelName)!.run(() => this.attempt(n, channel, key));
  }

  private async attempt(n: Notification, channel: Channel, key: string): Promise<DeliveryOutcome> {
    const firstAttemptAt = new Date();
    let attempts = 0;
    try {
      const result = await retry(
        async () => {
          attempts++;
          return channel.send(n);
        },
        {
          retries: this.o.maxAttempts - 1,
          initialDelayMs: this.o.retryInitialMs,
          maxDelayMs: this.o.retryMaxMs,
          jitter: 0.3,
          delayFromError: (err) => (err instanceof DeliveryError ? err.retryAfterMs : undefined),
          onRetry: (err, attempt, delayMs) => {
            this.metrics.attempts.inc({ channel: channel.name, result: 'retry' });
            this.o.log.warn({ err: (err as Error).message, alert: n.alert_id, channel: channel.name, attempt, delayMs }, 'delivery failed; retrying');
          },
        },
      );
      const latencyMs = n.origin ? Math.max(0, Date.now() - n.origin.timestamp) : undefined;
      this.metrics.attempts.inc({ channel: channel.name, result: 'ok' });
      if (latencyMs !== undefined) this.metrics.latency.observe({ channel: channel.name }, latencyMs / 1000);
      await this.audit(n, channel.name, { outcome: 'delivered', attempts, status: result.status, latencyMs, firstAttemptAt });
      await this.o.redis.multi()
        .set(key, 'delivered', 'EX', this.o.dedupTtlSeconds)
        .sadd(NOTIFIED_PREFIX + n.alert_id, channel.name)
        .expire(NOTIFIED_PREFIX + n.alert_id, this.o.dedupTtlSeconds)
        .exec();
      this.metrics.deliveries.inc({ channel: channel.name, outcome: 'delivered' });
      return 'delivered';
    } catch (err) {
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
      await retry(() => this.o.dlq.send({ topic: this.o.deadLetterTopic, acks: -1, messages: [message] }), { retries: 10, shouldRetry: () => true });
      await this.audit(n, channel.name, { outcome: 'dead_lettered', attempts, status: (err as DeliveryError).status, error: (err as Error).message, firstAttemptAt });
      await this.o.redis.set(key, 'dead_lettered', 'EX', this.o.dedupTtlSeconds);
      this.metrics.deliveries.inc({ channel: channel.name, outcome: 'dead_lettered' });
      return 'dead_lettered';
    }
  }

  async close(): Promise<void> {
    for (const c of this.o.channels.values()) await c.close?.();
  }
}
