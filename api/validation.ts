import { usdToNano } from '../src/money';
import type { CursorSigner } from './cursor';
import { badRequest } from '../src/http/http-errors';

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
// A full timestamp must carry its zone (Z or ±hh:mm): a zoneless time is ambiguous.
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})$/;
const DAY_MS = 86_400_000;

/** Parses an ISO date (YYYY-MM-DD, a UTC day) or an ISO timestamp with zone; 400 naming the parameter otherwise. */
export function parseInstant(name: string, value: string): Date {
  const d = DATE_RE.exec(value);
  const t = d ? null : DATETIME_RE.exec(value);
  if (!d && !t) {
    throw badRequest('invalid_date', `${name}=${JSON.stringify(value)} is not an ISO date (2025-08-01) or timestamp with zone (2025-08-01T00:00:00Z)`);
  }
  const [, y, mo, da, h = '00', mi = '00', s = '00'] = (d ?? t)!;
  const date = new Date(d ? `${y}-${mo}-${da}T00:00:00Z` : value);
  // Date.UTC reads years 0–99 as 1900–1999; setUTCFullYear takes the year as written.
  const check = new Date(0);
  check.setUTCFullYear(Number(y), Number(mo) - 1, Number(da));
  check.setUTCHours(Number(h), Number(mi), Number(s));
  if (
    Number.isNaN(date.getTime()) ||
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(da) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  ) {
    throw badRequest('invalid_date', `${name}=${JSON.stringify(value)} is not a real calendar date/time`);
  }
  // An offset can carry a timestamp of year 9999 into year 10000 (UTC), which Postgres dates refuse.
  if (date.getUTCFullYear() < 1 || date.getUTCFullYear() > 9999) {
    throw badRequest('invalid_date', `${name}=${JSON.stringify(value)} is outside years 0001–9999 (UTC)`);
  }
  return date;
}

export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export interface DayRange {
  startDay: string;
  endDay: string;
  days: number;
}

/**
 * The breakdown reads daily rollups, so a range is a set of whole UTC days: the day holding
 * start_date through the day holding end_date, inclusive. An end_date of exactly midnight that
 * is not a plain date ends the range on the previous day (end-exclusive timestamps).
 */
export function parseDayRange(start: string, end: string, maxDays: number): DayRange {
  const s = parseInstant('start_date', start);
  let e = parseInstant('end_date', end);
  if (e.getTime() < s.getTime()) throw badRequest('invalid_range', `end_date ${end} is before start_date ${start}`);
  if (!DATE_RE.test(end) && e.getTime() % DAY_MS === 0 && e.getTime() > s.getTime()) e = new Date(e.getTime() - 1);
  const startDay = utcDay(s);
  const endDay = utcDay(e);
  const days = Math.round((Date.parse(`${endDay}T00:00:00Z`) - Date.parse(`${startDay}T00:00:00Z`)) / DAY_MS) + 1;
  if (days > maxDays) throw badRequest('range_too_large', `the range covers ${days} days; at most ${maxDays} days are allowed per request`);
  return { startDay, endDay, days };
}

export function parseLimit(value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw badRequest('invalid_limit', `limit=${JSON.stringify(value)} must be a whole number from 1 to ${max}`);
  }
  return Number(value);
}

/** Audit-trail cursor: the (event time in µs since the epoch, event id) of the last row returned. */
export interface Cursor {
  timeMicros: string;
  eventId: string;
}

// Event times a cursor may carry: years 0001 to 9999 (Postgres takes more, but no event is outside).
const MIN_MICROS = -62_135_596_800_000_000n;
const MAX_MICROS = 253_402_300_799_999_999n;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const cursorScope = (postId: string) => `post:${postId}`;

export function encodeCursor(c: Cursor, signer: CursorSigner, postId: string): string {
  return signer.sign(cursorScope(postId), [c.timeMicros, c.eventId]);
}

/** A cursor this API issued for this post, with its position checked against what Postgres accepts. */
export function decodeCursor(value: string, signer: CursorSigner, postId: string): Cursor {
  const [timeMicros, eventId] = signer.verify(cursorScope(postId), value, 2);
  const invalid = (why: string) => badRequest('invalid_cursor', `cursor ${why}; pass page.next_cursor from the previous page unchanged`);
  if (!/^-?\d{1,18}$/.test(timeMicros) || BigInt(timeMicros) < MIN_MICROS || BigInt(timeMicros) > MAX_MICROS) throw invalid('holds an event time out of range');
  if (eventId.length < 1 || eventId.length > 256 || CONTROL.test(eventId)) throw invalid('holds an invalid event id');
  return { timeMicros, eventId };
}

/** Cursor of GET /audit: the id of the last entry returned (entries go newest first). */
export function encodeAuditCursor(auditId: string, signer: CursorSigner): string {
  return signer.sign('audit', [auditId]);
}

export function decodeAuditCursor(value: string, signer: CursorSigner): string {
  const [id] = signer.verify('audit', value, 1);
  if (!/^\d{1,19}$/.test(id) || BigInt(id) > 9_223_372_036_854_775_807n) throw badRequest('invalid_cursor', 'cursor holds an audit id out of range; pass page.next_cursor from the previous page unchanged');
  return id;
}

/** Largest budget numeric(20,9) holds. */
const MAX_LIMIT_NANO = 10n ** 20n - 1n;

/** A budget limit: an exact positive USD decimal string with at most 9 decimals. */
export function parseLimitUsd(value: unknown): bigint {
  if (typeof value !== 'string' || !/^\d{1,11}(\.\d{1,9})?$/.test(value)) {
    throw badRequest('invalid_limit_usd', `limit_usd must be a decimal string such as "125.50" (at most 9 decimals, below 1e11), got ${JSON.stringify(value)}`);
  }
  const nano = usdToNano(value);
  if (nano <= 0n) throw badRequest('invalid_limit_usd', 'limit_usd must be greater than zero');
  if (nano > MAX_LIMIT_NANO) throw badRequest('invalid_limit_usd', 'limit_usd must be below 100000000000');
  return nano;
}
