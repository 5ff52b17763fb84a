import type Redis from 'ioredis';
import type { Pool } from 'pg';
import type { ControlAdmin } from '../src/contracts/controls';
import type { ApiCache } from './cache';
import type { ApiSettings } from './settings';
import type { Scope } from '../src/http/auth';
import type { FastifyRequest } from 'fastify';
import { ERROR_SCHEMA } from '../src/http/error-codes';
import type { Actor } from './queries/audit';

export interface ApiContext {
  pool: Pool;
  redis: Redis | null;
  cache: ApiCache;
  config: ApiSettings;
  /** The circuit breaker's admin; null when that component is not deployed with this API. */
  controls: ControlAdmin | null;
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'invalid request (the message names the parameter or field)',
  401: 'no or unknown bearer token',
  403: 'token lacks the scope',
  404: 'not found',
  413: 'request body too large',
  415: 'body is not application/json',
  429: 'rate limit exceeded; Retry-After says when to try again',
  503: 'a dependency (Postgres, Redis, the circuit breaker) is unavailable; Retry-After says when to try again',
};

/** Standard error responses for the OpenAPI document; every authenticated route may also answer 429 and 503. */
export const errorResponses = (...codes: number[]) =>
  Object.fromEntries([...new Set([...codes, 429, 503])].map((c) => [c, { description: ERROR_DESCRIPTIONS[c] ?? 'error', ...ERROR_SCHEMA }]));

/** The operator behind a request, as logged and audited. */
export function actorOf(req: FastifyRequest): Actor {
  return { name: req.principal?.name ?? 'unknown', tokenId: req.principal?.tokenId ?? 'none', requestId: String(req.id) };
}
