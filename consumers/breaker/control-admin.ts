import Redis from 'ioredis';
import { Kafka, Producer } from 'kafkajs';
import { Pool } from 'pg';
import { AvroCodec } from '../../src/avro/codec';
import { Overrides, setting, topics } from '../../src/config';
import { CONTROL_KEY_PREFIX, ControlAdmin, ControlLevel, ControlState } from '../../src/contracts/controls';
import { producerOptions } from '../../src/kafka/options';
import { logger } from '../../src/logging';
import { breakerSettings } from './settings';
import { BREAKER_ACTIVE_SET, ControlStore } from './control-store';

/** ControlAdmin plus the operator's manual override to any level. */
export interface BreakerAdmin extends ControlAdmin {
  override(personaId: string, level: ControlLevel, actor: string, reason: string): Promise<ControlState>;
}

/**
 * The query API's view of the breaker: list and read controls, resume a persona, override a level.
 * Uses the caller's Redis and Postgres (not closed here) and its own Kafka producer (closed by close()).
 */
export function createControlAdmin(deps: { redis: Redis; pool: Pool; kafka: Kafka; overrides: Overrides }): BreakerAdmin {
  const log = logger('control-admin');
  let producer: Producer | undefined;
  let store: ControlStore | undefined;

  async function ready(): Promise<ControlStore> {
    if (store) return store;
    producer = deps.kafka.producer(producerOptions());
    await producer.connect();
    const s = new ControlStore({
      redis: deps.redis,
      pool: deps.pool,
      producer,
      codec: new AvroCodec(setting('SCHEMA_REGISTRY_URL', deps.overrides), deps.overrides),
      topic: topics(deps.overrides).costControls,
      cfg: breakerSettings(deps.overrides),
      log,
    });
    await s.init();
    store = s;
    return s;
  }

  async function get(personaId: string): Promise<ControlState | null> {
    const raw = await deps.redis.get(CONTROL_KEY_PREFIX + personaId);
    return raw ? (JSON.parse(raw) as ControlState) : null;
  }

  async function transition(personaId: string, input: Parameters<ControlStore['apply']>[1]): Promise<ControlState> {
    const s = await ready();
    const r = await s.apply(personaId, input);
    // Overrides and resumes always make a transition (possibly normal → normal, still audited).
    return r.transition!.control;
  }

  return {
    async list() {
      const personas = await deps.redis.smembers(BREAKER_ACTIVE_SET);
      const states = await Promise.all(personas.map(get));
      return states.filter((s): s is ControlState => s !== null && s.level !== 'normal').sort((a, b) => a.persona_id.localeCompare(b.persona_id));
    },
    get,
    resume: (personaId, actor, reason) => transition(personaId, () => ({ kind: 'resume', actor, reason, now: Date.now() })),
    override: (personaId, level, actor, reason) => transition(personaId, () => ({ kind: 'override', level, actor, reason, now: Date.now() })),
    async close() {
      await producer?.disconnect();
    },
  };
}
