import type avro from 'avsc';
import Redis from 'ioredis';
import { Producer } from 'kafkajs';
import { Pool } from 'pg';
import { AvroCodec, avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { CONTROL_CHANNEL, CONTROL_KEY_PREFIX, ControlState } from '../../src/contracts/controls';
import { Logger } from '../../src/logging';
import { isTransientFault } from '../../src/dependency-faults';
import { retry } from '../../src/retry';
import { breakerMetrics } from './metrics';
import { withRedisLock } from '../../src/redis/lock';
import { BreakerConfig, BreakerInput, BreakerState, step, StepResult, Transition } from './state-machine';

export const BREAKER_STATE_PREFIX = 'finops:breaker:state:';
export const BREAKER_LOCK_PREFIX = 'finops:breaker:lock:';
/** Personas whose control is not normal: the tick loop and the admin list walk this set. */
export const BREAKER_ACTIVE_SET = 'finops:breaker:active';
/** A normal persona's state (its replay guard) is kept this long. */
const IDLE_STATE_TTL_MS = 24 * 3600_000;

export interface ControlStoreDeps {
  redis: Redis;
  pool: Pool;
  producer: Producer;
  codec: AvroCodec;
  topic: string;
  cfg: BreakerConfig;
  log: Logger;
  /** Called after a transition into `page` is persisted. */
  onPage?: (t: Transition) => Promise<void>;
}

/** Avro record for finops.cost-controls.v1. */
export function transitionRecord(t: Transition): Record<string, unknown> {
  return {
    transition_id: t.transition_id,
    persona_id: t.persona_id,
    from_level: t.from_level,
    to_level: t.to_level,
    cause: t.cause,
    reason: t.reason,
    actor: t.actor,
    anomaly_id: t.anomaly_id,
    anomaly_sequence: t.anomaly_sequence,
    at: new Date(t.at),
    requests_per_minute: t.control.requests_per_minute,
    model_map: t.control.model_map,
    paused_until: t.control.paused_until ? new Date(t.control.paused_until) : null,
    probing: t.control.probing,
    manual: t.control.manual,
    expires_at: t.control.expires_at ? new Date(t.control.expires_at) : null,
  };
}

/**
 * Applies breaker inputs to one persona's state under a lock and persists what changed. A
 * transition is written in this order: Postgres audit (idempotent on its deterministic id), the
 * Kafka record, then Redis (state, control, pub/sub notice). A crash anywhere before the Redis
 * write leaves the old state, so the redelivered input recomputes the same transition id.
 */
export class ControlStore {
  private schemaId: number | undefined;
  private readonly type: avro.Type = avroType(loadSchema('cost-control'));
  private readonly metrics = breakerMetrics();

  constructor(private readonly d: ControlStoreDeps) {}

  async init(): Promise<void> {
    this.schemaId = await retry(() => this.d.codec.register(this.d.topic, loadSchema('cost-control')), { retries: 5 });
  }

  async loadState(personaId: string): Promise<BreakerState | null> {
    const raw = await this.d.redis.get(BREAKER_STATE_PREFIX + personaId);
    return raw ? (JSON.parse(raw) as BreakerState) : null;
  }

  async control(personaId: string): Promise<ControlState | null> {
    const raw = await this.d.redis.get(CONTROL_KEY_PREFIX + personaId);
    return raw ? (JSON.parse(raw) as ControlState) : null;
  }

  async activePersonas(): Promise<string[]> {
    return this.d.redis.smembers(BREAKER_ACTIVE_SET);
  }

  /** Steps one persona's breaker with `input` (built at lock time, so `now` is fresh). */
  async apply(personaId: string, input: () => BreakerInput): Promise<StepResult> {
    const result = await withRedisLock(this.d.redis, BREAKER_LOCK_PREFIX + personaId, async () => {
      const before = await this.loadState(personaId);
      const r = step(before, personaId, input(), this.d.cfg);
      if (r.transition) await this.persistTransition(r.state, r.transition);
      else if (r.changed) await this.saveState(r.state);
      return r;
    });
    if (result.transition?.page && this.d.onPage) {
      await this.d.onPage(result.transition).catch((err) => this.d.log.error({ err, persona: personaId }, 'paging a human failed'));
    }
    return result;
  }

  private stateTtlMs(s: BreakerState): number {
    if (s.level === 'normal') return IDLE_STATE_TTL_MS;
    return Math.max(IDLE_STATE_TTL_MS, (s.paused_until ?? Date.now()) - Date.now() + this.d.cfg.controlTtlMs);
  }

  private async saveState(s: BreakerState): Promise<void> {
    await this.d.redis.set(BREAKER_STATE_PREFIX + s.persona_id, JSON.stringify(s), 'PX', this.stateTtlMs(s));
  }

  private async persistTransition(state: BreakerState, t: Transition): Promise<void> {
    if (this.schemaId === undefined) await this.init();
    const c = t.control;
    // Only a passing Postgres fault is retried: a data error (e.g. SQLSTATE 22021, a NUL in an id)
    // fails the same way every time, and retrying it would hold the persona's lock for seconds.
    await retry(() =>
      this.d.pool.query(
        `INSERT INTO control_transitions (transition_id, persona_id, from_level, to_level, cause, reason, actor, anomaly_id, anomaly_sequence,
           requests_per_minute, model_map, paused_until, probing, manual, at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) ON CONFLICT (transition_id) DO NOTHING`,
        [t.transition_id, t.persona_id, t.from_level, t.to_level, t.cause, t.reason, t.actor, t.anomaly_id, t.anomaly_sequence,
          c.requests_per_minute, JSON.stringify(c.model_map), c.paused_until, c.probing, c.manual, new Date(t.at)],
      ), { retries: 5, shouldRetry: isTransientFault },
    );
    await this.d.producer.send({
      topic: this.d.topic,
      acks: -1,
      messages: [{ key: t.persona_id, value: AvroCodec.encode(this.schemaId!, this.type, transitionRecord(t)), headers: { transition_id: t.transition_id } }],
    });
    const key = CONTROL_KEY_PREFIX + t.persona_id;
    const controlTtlMs = c.expires_at ? Math.max(1000, Date.parse(c.expires_at) - Date.now()) : IDLE_STATE_TTL_MS;
    const multi = this.d.redis.multi()
      .set(BREAKER_STATE_PREFIX + t.persona_id, JSON.stringify(state), 'PX', this.stateTtlMs(state))
      .set(key, JSON.stringify(c), 'PX', controlTtlMs);
    if (c.level === 'normal') multi.srem(BREAKER_ACTIVE_SET, t.persona_id);
    else multi.sadd(BREAKER_ACTIVE_SET, t.persona_id);
    multi.publish(CONTROL_CHANNEL, t.persona_id);
    const res = await multi.exec();
    const failed = res?.find(([err]) => err);
    if (failed) throw failed[0];
    this.metrics.transitions.inc({ to_level: t.to_level, cause: t.cause });
    this.d.log.info({ persona: t.persona_id, from: t.from_level, to: t.to_level, cause: t.cause, transition: t.transition_id }, t.reason);
  }
}
