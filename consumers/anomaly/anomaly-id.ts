import { createHash } from 'node:crypto';

/**
 * Deterministic anomaly id: the same persona, detector slot and window (or post, or budget
 * period) always give the same id, so a replay after a restart reproduces ids instead of
 * inventing new ones, and downstream consumers can dedupe on (anomaly_id, sequence).
 */
export function anomalyId(personaId: string, slot: string, windowKey: string | number): string {
  return createHash('sha256').update(`${personaId}|${slot}|${windowKey}`).digest('hex').slice(0, 32);
}
