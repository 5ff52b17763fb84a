import crypto from 'node:crypto';
import type { CostEvent } from '../../src/events';

// One-shot hashing where Node has it (20.12+): about a third cheaper than a Hash object per event.
export const md5: (data: string | Buffer) => Buffer =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (data) => (crypto as unknown as { hash(alg: string, data: string | Buffer, enc: 'buffer'): Buffer }).hash('md5', data, 'buffer')
    : (data) => crypto.createHash('md5').update(data).digest();

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The 16-byte key cost_event_ids is unique on, as Postgres reads a uuid: a canonical lower-case
 * UUID is its own key, any other id the md5 of its text (written as Postgres prints a uuid). Same rule as finops_event_key() in
 * sql/013_event_id_ledger.sql, which backfilled the table.
 */
export function eventKey(eventId: string): string {
  if (CANONICAL_UUID.test(eventId)) return eventId;
  const h = md5(`finops.event_id:${eventId}`).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * A 64-bit hash of what two arrivals of one id must agree on (cost type, amount, persona, post);
 * the same as finops_event_fingerprint() in SQL. Returned as the decimal text of a signed bigint.
 */
export function eventFingerprint(e: Pick<CostEvent, 'cost_type' | 'amount' | 'persona_id' | 'post_id'>): string {
  return fingerprintOf(e.cost_type, e.amount, e.persona_id, e.post_id);
}

/** eventFingerprint of the four fields; `amount` in nano-USD (a number only when safe). */
export function fingerprintOf(costType: string, amount: bigint | number, personaId: string, postId: string | null): string {
  const digest = md5(`${costType}\u001f${amount}\u001f${personaId}\u001f${postId ?? ''}`);
  return digest.readBigInt64BE(0).toString();
}
