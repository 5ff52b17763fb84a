import Redis from 'ioredis';
import { Overrides } from '../src/config';
import { redisTls } from '../src/redis/tls';
import { CONTROL_CHANNEL, CONTROL_KEY_PREFIX, ControlLevel, ControlState, PERSONA_TEAM_KEY_PREFIX, scopeSubject } from '../src/contracts/controls';
import { logger } from '../src/logging';
import { sleep } from '../src/retry';
import { counter, gauge } from '../src/metrics';
import { BUCKET_KEY_PREFIX, bucketParams, GCRA_SCRIPT } from './cost-guard-bucket';
import { GuardUnavailableError, PausedError, ThrottledError } from './cost-guard-errors';
import { CostGuardSettings, costGuardSettings } from './settings';

export { PausedError, ThrottledError, GuardUnavailableError } from './cost-guard-errors';
export type { CostGuardSettings, RedisFailurePolicy } from './settings';

export interface GuardDecision {
  /** The model to call (the requested one, or its substitute while a model switch is in force). */
  model: string;
  level: ControlLevel;
  /** Time spent waiting for a throttle token. */
  waitedMs: number;
  /** True when Redis was unreachable and the fail-open policy let the call through. */
  degraded: boolean;
}

export interface CostGuardOptions {
  overrides?: Overrides;
  settings?: Partial<CostGuardSettings>;
}

/** What a call is attributed to beyond its persona and model: a budget on its service or one of its tags may control it. */
export interface CallScope {
  /** The service the cost event will name. */
  service?: string | null;
  /** The metadata the cost event will carry: each key=value is a tag scope. */
  tags?: Record<string, string>;
}

interface Cached {
  control: ControlState | null;
  at: number;
}

const MAX_CACHED_PERSONAS = 10_000;
const LEVEL_RANK: Record<ControlLevel, number> = { normal: 0, throttle: 1, switch_model: 2, pause: 3, page: 4 };

function guardMetrics() {
  return {
    decisions: counter('finops_guard_decisions_total', 'CostGuard answers, by decision (allow, switch_model, wait, throttled, paused, fail_open, fail_closed).', ['decision']),
    redisUp: gauge('finops_guard_redis_up', 'Whether the CostGuard reaches Redis (1) or applies its failure policy (0).'),
    notices: counter('finops_guard_control_notices_total', 'Control-change notices received over Redis pub/sub.'),
  };
}

/**
 * Enforces the circuit breaker's controls in the calling service. Ask it before each LLM call:
 *
 *   const { model } = await guard.acquire(personaId, 'gpt-4o'); // may wait, or throw PausedError / ThrottledError
 *
 * Controls are read from Redis and cached locally; a pub/sub notice on CONTROL_CHANNEL drops the
 * cached entry at once, and no entry is trusted longer than GUARD_CACHE_TTL_MS, so a change is
 * seen within a second. Throttling is a token bucket shared by all replicas (in Redis).
 */
export class CostGuard {
  private readonly s: CostGuardSettings;
  private readonly log = logger('cost-guard');
  private readonly metrics = guardMetrics();
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly cache = new Map<string, Cached>();
  /** Persona → team (null: none), as the API mirrors persona_teams into Redis. */
  private readonly teams = new Map<string, { team: string | null; at: number }>();
  private redisUp = true;
  private started = false;

  constructor(opts: CostGuardOptions = {}) {
    this.s = { ...costGuardSettings(opts.overrides), ...opts.settings };
    const common = {
      ...redisTls(opts.overrides ?? {}, this.s.redisUrl),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(500, this.s.redisTimeoutMs * 4),
      retryStrategy: (times: number) => Math.min(100 * times, 1000),
    };
    this.redis = new Redis(this.s.redisUrl, { ...common, commandTimeout: this.s.redisTimeoutMs });
    this.sub = new Redis(this.s.redisUrl, { ...common, enableOfflineQueue: true });
    this.redis.on('error', (err) => this.markDown(err));
    this.sub.on('error', () => undefined);
    this.redis.on('ready', () => this.markUp());
    // After a reconnect a notice may have been missed: forget everything cached.
    this.sub.on('ready', () => {
      this.cache.clear();
      this.teams.clear();
    });
    this.sub.on('message', (_channel: string, subject: string) => {
      this.metrics.notices.inc();
      this.cache.delete(subject);
      this.teams.delete(subject);
    });
    this.metrics.redisUp.set(1);
  }

  /** Connects and subscribes. If Redis is down the guard still starts and applies its policy. */
  async start(): Promise<this> {
    if (this.started) return this;
    this.started = true;
    await Promise.all([
      this.redis.connect().catch((err) => this.markDown(err)),
      this.sub.connect().then(() => this.sub.subscribe(CONTROL_CHANNEL)).catch((err) => this.markDown(err)),
    ]);
    return this;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    this.sub.disconnect();
  }

  get failurePolicy() {
    return this.s.failurePolicy;
  }

  private markDown(err: unknown): void {
    if (this.redisUp) {
      this.redisUp = false;
      this.metrics.redisUp.set(0);
      this.log.warn({ err, policy: this.s.failurePolicy }, `Redis unreachable: CostGuard fails ${this.s.failurePolicy} until it is back`);
    }
  }

  private markUp(): void {
    if (!this.redisUp) {
      this.redisUp = true;
      this.metrics.redisUp.set(1);
      this.log.info('Redis reachable again: CostGuard enforcing controls');
    }
    this.cache.clear();
  }

  private unavailable(err: unknown, personaId: string): { control: ControlState | null; degraded: true } {
    this.markDown(err);
    if (this.s.failurePolicy === 'closed') {
      this.metrics.decisions.inc({ decision: 'fail_closed' });
      throw new GuardUnavailableError(`cannot read the cost control for ${personaId}: Redis unreachable and GUARD_REDIS_FAILURE_POLICY=closed`, err);
    }
    this.metrics.decisions.inc({ decision: 'fail_open' });
    return { control: this.cache.get(personaId)?.control ?? null, degraded: true };
  }

  /** The control in force for a persona (null: none), from the cache when fresh. */
  async control(personaId: string, quiet = false): Promise<{ control: ControlState | null; degraded: boolean }> {
    const now = Date.now();
    const hit = this.cache.get(personaId);
    if (hit && now - hit.at < this.s.cacheTtlMs) return { control: hit.control, degraded: false };
    let raw: string | null;
    try {
      raw = await this.redis.get(CONTROL_KEY_PREFIX + personaId);
    } catch (err) {
      // Scope controls fall back to what was cached: the persona's own read applies the failure policy once.
      if (quiet) return { control: hit?.control ?? null, degraded: true };
      return this.unavailable(err, personaId);
    }
    this.markUpIfDown();
    const control = raw ? (JSON.parse(raw) as ControlState) : null;
    if (this.cache.size >= MAX_CACHED_PERSONAS) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(personaId, { control, at: now });
    return { control, degraded: false };
  }

  private async teamOf(personaId: string): Promise<string | null> {
    const now = Date.now();
    const hit = this.teams.get(personaId);
    if (hit && now - hit.at < this.s.cacheTtlMs) return hit.team;
    let team: string | null;
    try {
      team = await this.redis.get(PERSONA_TEAM_KEY_PREFIX + personaId);
    } catch {
      return hit?.team ?? null; // the persona's own control decides the failure policy
    }
    if (this.teams.size >= MAX_CACHED_PERSONAS) this.teams.delete(this.teams.keys().next().value as string);
    this.teams.set(personaId, { team, at: now });
    return team;
  }

  /**
   * The strictest control in force over a call: the persona's own, and those of the budget scopes
   * covering it (everything, the model, the persona's team, and the service and tags the caller
   * names). Returns the subject whose control won.
   */
  private async strictest(personaId: string, model: string, scope: CallScope): Promise<{ control: ControlState | null; subject: string; degraded: boolean }> {
    const team = await this.teamOf(personaId);
    const subjects = [personaId, scopeSubject('global', ''), scopeSubject('model', model)];
    if (team) subjects.push(scopeSubject('team', team));
    if (scope.service) subjects.push(scopeSubject('service', scope.service));
    if (scope.tags) for (const k of Object.keys(scope.tags)) subjects.push(scopeSubject('tag', `${k}=${scope.tags[k]}`));
    const got = await Promise.all(subjects.map((s, i) => this.control(s, i > 0)));
    const now = Date.now();
    let best: { control: ControlState | null; subject: string } = { control: got[0].control, subject: personaId };
    let bestRank = -1;
    got.forEach((g, i) => {
      const c = g.control;
      if (!c || c.level === 'normal' || (c.expires_at && Date.parse(c.expires_at) <= now)) return;
      const paused = c.paused_until !== null && Date.parse(c.paused_until) > now;
      const rank = (paused ? 1e9 : 0) + LEVEL_RANK[c.level] * 1e6 - (c.requests_per_minute ?? 0);
      if (rank > bestRank) {
        bestRank = rank;
        best = { control: c, subject: subjects[i] };
      }
    });
    return { ...best, degraded: got.some((g) => g.degraded) };
  }

  private markUpIfDown(): void {
    if (!this.redisUp) this.markUp();
  }

  /**
   * Asks before one LLM call. Returns the model to use after waiting for a throttle token if one
   * frees up within `maxWaitMs`; throws PausedError while paused, ThrottledError when the wait
   * would be longer, GuardUnavailableError when Redis is down and the policy is fail-closed.
   */
  async acquire(personaId: string, model: string, opts: { maxWaitMs?: number } & CallScope = {}): Promise<GuardDecision> {
    const started = Date.now();
    const maxWaitMs = opts.maxWaitMs ?? this.s.maxWaitMs;
    const { control, subject, degraded } = await this.strictest(personaId, model, opts);
    const now = Date.now();
    if (!control || control.level === 'normal' || (control.expires_at && Date.parse(control.expires_at) <= now)) {
      this.metrics.decisions.inc({ decision: 'allow' });
      return { model, level: 'normal', waitedMs: 0, degraded };
    }
    if (control.paused_until && Date.parse(control.paused_until) > now) {
      this.metrics.decisions.inc({ decision: 'paused' });
      throw new PausedError(personaId, new Date(control.paused_until), control.reason);
    }
    const useModel = control.model_map[model] ?? model;
    let waitedMs = 0;
    let bucketDegraded = false;
    if (control.requests_per_minute) {
      const { intervalMs, burst } = bucketParams(control.requests_per_minute, this.s.burstSeconds);
      let result: [number, number];
      try {
        // A scope's throttle is one bucket shared by every persona in the scope.
        result = (await this.redis.eval(GCRA_SCRIPT, 1, BUCKET_KEY_PREFIX + subject, intervalMs, burst, maxWaitMs)) as [number, number];
      } catch (err) {
        this.unavailable(err, personaId);
        result = [1, 0];
        bucketDegraded = true;
      }
      const [allowed, wait] = result;
      if (!allowed) {
        this.metrics.decisions.inc({ decision: 'throttled' });
        throw new ThrottledError(personaId, wait, control.requests_per_minute);
      }
      if (wait > 0) {
        this.metrics.decisions.inc({ decision: 'wait' });
        await sleep(wait);
      }
      waitedMs = Date.now() - started;
    }
    this.metrics.decisions.inc({ decision: useModel !== model ? 'switch_model' : 'allow' });
    return { model: useModel, level: control.level, waitedMs, degraded: degraded || bucketDegraded };
  }
}
