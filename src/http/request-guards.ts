import type { FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type Redis from 'ioredis';
import type { Logger } from '../logging';
import { authorize, Principal, principalOf, Scope, TokenTable } from './auth';
import { sendApiError } from './errors-handler';
import { ApiError } from './http-errors';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Scope the route requires; absent = unauthenticated (ops endpoints, OpenAPI document). */
    scope?: Scope;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface RateLimitOptions {
  /** Counters live here, shared by every replica; null: per process. */
  redis: Redis | null;
  /** Key prefix of the counters in Redis. */
  nameSpace: string;
  /** Requests per window per bearer token (0 disables the limit). */
  max: number;
  /** Requests per window per client address without a known token. */
  anonymousMax: number;
  windowMs: number;
  tokens: TokenTable;
  /** Route patterns served without a limit (probes, the OpenAPI document). */
  publicRoutes: readonly string[];
  onLimited?: (client: 'token' | 'anonymous') => void;
}

/**
 * Rate limits every request before authentication, keyed by token (so failed-auth floods are
 * limited per address), counted in Redis across replicas; 429 with Retry-After in the error model.
 * Redis down: requests are served rather than everyone refused.
 */
export async function installRateLimit(app: FastifyInstance, o: RateLimitOptions): Promise<void> {
  if (o.max <= 0) return;
  await app.register(rateLimit, {
    global: false,
    redis: o.redis ?? undefined,
    nameSpace: o.nameSpace,
    skipOnError: true,
    timeWindow: o.windowMs,
    keyGenerator: (req) => {
      const p = principalOf(req.headers.authorization, o.tokens);
      return p ? `t:${p.tokenId}` : `a:${req.ip}`;
    },
    max: async (_req, key) => (key.startsWith('t:') ? o.max : o.anonymousMax),
    allowList: (req) => o.publicRoutes.includes(req.routeOptions.url ?? ''),
    errorResponseBuilder: (req, c) => {
      o.onLimited?.(req.headers.authorization && principalOf(req.headers.authorization, o.tokens) ? 'token' : 'anonymous');
      const seconds = Math.max(1, Math.ceil(c.ttl / 1000));
      return new ApiError(429, 'rate_limited', `rate limit of ${c.max} requests per ${Math.round(o.windowMs / 1000)} s exceeded; retry after ${seconds} s`, { retryAfterSeconds: seconds });
    },
  });
  app.addHook('onRequest', app.rateLimit());
}

/**
 * Checks the bearer token of every route that declares a `scope` in its config: 401 without a
 * known token, 403 without the scope. The token itself is never logged, only its id.
 */
export function installBearerAuth(app: FastifyInstance, tokens: TokenTable, log: Logger, onFailure?: (reason: string) => void): void {
  app.addHook('onRequest', async (req, reply) => {
    const scope = req.routeOptions.config.scope;
    if (!scope) return;
    const outcome = authorize(req.headers.authorization, tokens, scope);
    if (!outcome.ok) {
      onFailure?.(outcome.reason);
      log.warn({ reason: outcome.reason, token_id: outcome.tokenId, method: req.method, route: req.routeOptions.url, ip: req.ip, reqId: req.id }, outcome.status === 401 ? 'authentication failed' : 'authorization failed');
      return sendApiError(reply, new ApiError(outcome.status, outcome.status === 401 ? 'unauthorized' : 'forbidden', outcome.message));
    }
    req.principal = outcome.principal;
  });
}
