import { DependencyError, FinOpsError, InvalidInputError } from './errors';

/**
 * Classifies errors raised by the Postgres (pg), Redis (ioredis) and Kafka (kafkajs) clients, which
 * do not extend FinOpsError, into the two kinds callers act on:
 *
 * - a data error: the input itself is wrong (Postgres SQLSTATE class 22 "data exception", e.g.
 *   22021 NUL byte in text, 22003 numeric out of range, 22008 datetime overflow; class 23 integrity
 *   violations; an InvalidInputError). Retrying cannot help; an API answers 4xx.
 * - a dependency fault: the server or the connection failed in a way that may pass (connection
 *   refused/reset/closed, timeouts, Postgres classes 08/53/57P0x, serialization failures, ioredis
 *   MaxRetriesPerRequestError and "Connection is closed", Redis LOADING/BUSY/OOM/READONLY, kafkajs
 *   retriable errors, a retriable FinOpsError). Retry with backoff; an API answers 503.
 */

export type Dependency = 'postgres' | 'redis' | 'kafka' | 'schema registry' | 'dependency';

const NODE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);
// Postgres SQLSTATEs (besides classes 08 and 53) that mean "the server cannot serve this now", not
// "this request is wrong": shutdowns, statement timeout, serialization failure, deadlock, lock timeout.
const PG_TRANSIENT_EXACT = new Set(['57P01', '57P02', '57P03', '57P04', '57P05', '57014', '40001', '40P01', '55P03']);
const PG_CLIENT_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end',
  'connection error',
];
const REDIS_MESSAGES = ['Connection is closed', "Stream isn't writeable", 'Command timed out', 'Reached the max retries per request limit', 'connect ETIMEDOUT'];
const REDIS_REPLY_TRANSIENT = /^(LOADING|BUSY|OOM|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MISCONF)\b/;

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  retriable?: unknown;
  severity?: unknown;
}

const asLike = (err: unknown): ErrorLike => (err && typeof err === 'object' ? (err as ErrorLike) : {});

/** A Postgres error reply carries a five-character SQLSTATE and a severity. */
export function sqlState(err: unknown): string | null {
  const e = asLike(err);
  return typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string' ? e.code : null;
}

/** The request's data is wrong in itself: never retry, answer 4xx. */
export function isDataError(err: unknown): boolean {
  if (err instanceof InvalidInputError) return true;
  const state = sqlState(err);
  return state !== null && (state.startsWith('22') || state.startsWith('23'));
}

/** The dependency that failed transiently, or null when `err` is not a passing dependency fault. */
export function dependencyFault(err: unknown): Dependency | null {
  if (err instanceof DependencyError) return err.retriable ? (err.dependency as Dependency) : null;
  if (err instanceof FinOpsError) return err.retriable ? 'dependency' : null;
  const e = asLike(err);
  const name = typeof e.name === 'string' ? e.name : '';
  const message = typeof e.message === 'string' ? e.message : '';
  const state = sqlState(err);
  if (state !== null) return PG_TRANSIENT_EXACT.has(state) || state.startsWith('08') || state.startsWith('53') ? 'postgres' : null;
  if (name === 'MaxRetriesPerRequestError') return 'redis';
  if (name === 'ReplyError') return REDIS_REPLY_TRANSIENT.test(message) ? 'redis' : null;
  if (name.startsWith('KafkaJS')) return e.retriable === true || /Connection|Timeout|NumberOfRetriesExceeded|BrokerNotFound/.test(name) ? 'kafka' : null;
  if (REDIS_MESSAGES.some((m) => message.includes(m))) return 'redis';
  if (PG_CLIENT_MESSAGES.some((m) => message.includes(m))) return 'postgres';
  if (typeof e.code === 'string' && NODE_SOCKET_CODES.has(e.code)) return 'dependency';
  return null;
}

/** For retry(): retry passing dependency faults only, never a data error or a bug. */
export function isTransientFault(err: unknown): boolean {
  return !isDataError(err) && dependencyFault(err) !== null;
}
