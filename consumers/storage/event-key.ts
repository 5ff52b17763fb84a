import { createHash } from 'node:crypto';
import type { CostEvent } from '../../src/events';

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The 16-byte key cost_event_ids is unique on, as Postgres reads a uuid: a canonical lower-case
 * UUID is its own key, any other id the md5 of its text (written as Postgres prints a uuid). Same rule as finops_event_key() in
 * sql/013_event_id_ledger.sql, which backfilled the table.
 */
export function eventKey(eventId: string): string {
  if (CANONICAL_UUID.test(eventId)) return eventId;
  const h = createHash('md5').update(`finops.event_id:${eventId}`, 'utf8').digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * A 64-bit hash of what two arrivals of one id must agree on (cost type, amount, persona, post);
 * the same as finops_event_fingerprint() in SQL. Returned as the decimal text of a signed bigint.
 */
export function eventFingerprint(e: Pick<CostEvent, 'cost_type' | 'amount' | 'persona_id' | 'post_id'>): string {
  const digest = createHash('md5').update([e.cost_type, e.amount.toString(), e.persona_id, e.post_id ?? ''].join('\u001f'), 'utf8').digest();
  return digest.readBigInt64BE(0).toString();
}
