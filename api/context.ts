import type Redis from 'ioredis';
import type { Pool } from 'pg';
import type { ControlAdmin } from '../src/contracts/controls';
import type { ApiCache } from './cache';
import type { ApiConfig } from './config';
import type { Scope } from './auth';

export interface ApiContext {
  pool: Pool;
  redis: Redis | null;
  cache: ApiCache;
  config: ApiConfig;
  /** The circuit breaker's admin; null when that component is not deployed with this API. */
  controls: ControlAdmin | null;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Scope the route requires; absent = unauthenticated (ops endpoints, OpenAPI document). */
    scope?: Scope;
  }
  interface FastifyRequest {
    principal?: import('./auth').Principal;
  }
}

export const ERROR_SCHEMA = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

/** Standard error responses for the OpenAPI document. */
export const errorResponses = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [c, { description: { 400: 'invalid request', 401: 'no or unknown bearer token', 403: 'token lacks the scope', 404: 'not found', 503: 'dependency unavailable' }[c] ?? 'error', ...ERROR_SCHEMA }]));
