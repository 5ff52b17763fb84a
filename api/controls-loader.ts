import fs from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import type { Overrides } from '../src/config';
import type { ControlAdmin } from '../src/contracts/controls';
import { createKafka } from '../src/kafka/client';

/**
 * Loads the circuit breaker's ControlAdmin (consumers/breaker/control-admin.ts) if that component
 * is present; null otherwise (the control routes then answer 503). Imported lazily by path so the
 * API builds and runs without it.
 */
export async function loadControlAdmin(deps: { redis: Redis; pool: Pool; overrides: Overrides }): Promise<ControlAdmin | null> {
  const base = path.resolve(__dirname, '../consumers/breaker/control-admin');
  if (!['.ts', '.js'].some((ext) => fs.existsSync(base + ext))) return null;
  const mod = (await import(base)) as { createControlAdmin?: (d: Record<string, unknown>) => ControlAdmin | Promise<ControlAdmin> };
  if (typeof mod.createControlAdmin !== 'function') return null;
  return mod.createControlAdmin({ redis: deps.redis, pool: deps.pool, kafka: createKafka(deps.overrides, 'api-controls'), overrides: deps.overrides });
}
