import { observeAll } from './observe-all';
import { Overrides, setting, intSetting } from '../config';
import type { StorageWriteResult } from '../contracts/storage';
import { counter, gauge, histogram } from './index';

/**
 * The seed's business metrics, driven only by what the storage consumer has COMMITTED to Postgres
 * (its WriteResult), so each cost event is counted exactly once however often Kafka redelivers it:
 * a redelivered event inserts no row and so appears in no delta.
 *
 * Money: amounts arrive exact (decimal strings, or nano-dollars as a bigint). Prometheus samples are
 * float64, so this module — and only this module — converts them with Number(). That is acceptable for a
 * monitoring counter (relative error ~1e-16 per addition; dashboards show cents), never for the
 * stored or billed figures, which stay exact in Postgres and in the API.
 *
 * Labels: `persona_id` is assumed to be a bounded set (the personas a deployment runs, tens to
 * hundreds), `model` is bounded by the price table and `operation` by the SDK's vector operations.
 * To keep a misbehaving producer from exploding the series count anyway, each label admits at most
 * METRICS_MAX_LABEL_VALUES distinct values per process; the rest are reported as "_other".
 * Post ids never become labels.
 */
/** The part of a committed batch these metrics read. */
export type CommittedCosts = Pick<StorageWriteResult, 'posts' | 'deltas'>;

/** Dollar buckets around the $0.02 per-post target and its $0.04 breach line. */
export const COST_PER_POST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.06, 0.1, 0.25, 1];

export function businessMetrics() {
  return {
    openai: counter('openai_api_costs_usd_total', 'OpenAI API spend in USD, from committed cost events.', ['model', 'persona_id']),
    kubernetes: counter('kubernetes_resource_costs_usd_total', 'Kubernetes compute (CPU, memory) spend in USD, from committed cost events.', ['persona_id']),
    vectorDb: counter('vector_db_operation_costs_usd_total', 'Vector database spend in USD by operation, from committed cost events.', ['operation', 'persona_id']),
    allCosts: counter('finops_costs_usd_total', 'All spend in USD by cost type (openai_api, kubernetes, vector_db, other), from committed cost events.', ['cost_type', 'persona_id']),
    costEvents: counter('finops_cost_events_total', 'Committed (newly stored) cost events by cost type.', ['cost_type', 'persona_id']),
    costPerPost: histogram('finops_cost_per_post_usd', 'Total cost of a post in USD, observed once per post when it has had no new cost for METRICS_POST_SETTLE_MS.', ['persona_id'], COST_PER_POST_BUCKETS),
    breaches: counter('finops_cost_per_post_threshold_breaches_total', 'Posts whose running total crossed the per-post breach line (METRICS_COST_PER_POST_BREACH_USD, 2 x target).', ['persona_id']),
    target: gauge('finops_cost_per_post_target_usd', 'Target cost per post in USD (METRICS_COST_PER_POST_TARGET_USD).'),
    breachLine: gauge('finops_cost_per_post_breach_usd', 'Per-post cost above which a post counts as a threshold breach.'),
    openPosts: gauge('finops_cost_per_post_open_posts', 'Posts whose cost is still accruing (not yet observed in finops_cost_per_post_usd) in this process.'),
  };
}

/** Admits at most `max` distinct values of one label; later newcomers become "_other". */
export class LabelLimiter {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}
  value(raw: string | undefined | null): string {
    const v = raw && raw.length > 0 ? raw : 'unknown';
    if (this.seen.has(v)) return v;
    if (this.seen.size >= this.max) return '_other';
    this.seen.add(v);
    return v;
  }
}

interface CounterChild {
  inc(value?: number): void;
}

interface DeltaSeries {
  allCosts: CounterChild;
  costEvents: CounterChild;
  /** The per-type counter (OpenAI by model, Kubernetes, vector DB by operation), if the type has one. */
  byType: CounterChild | undefined;
}

const MAX_CACHED_SERIES = 100_000;
const MAX_SPARE_POSTS = 10_000;

interface OpenPost {
  id: string;
  persona: string;
  total: number;
  updatedAt: number;
}

/**
 * Records committed batches into the business metrics. A post's cost accrues over several events
 * (and batches); it is observed in the cost-per-post histogram once, when it has been quiet for
 * `settleMs` or when the bounded table of open posts is full (oldest first). Memory is bounded by
 * `maxOpenPosts` plus an equally bounded set of recently breached posts.
 *
 * Limits, documented: after a rebalance or restart a post whose cost straddles two instances can be
 * observed twice; open posts are not observed on shutdown (they are dropped, not guessed).
 */
export class CostMetricsRecorder {
  private readonly m = businessMetrics();
  private readonly personas: LabelLimiter;
  private readonly models: LabelLimiter;
  private readonly operations: LabelLimiter;
  private readonly open = new Map<string, OpenPost>();
  /** Records of observed posts, for the next new ones. */
  private readonly spare: OpenPost[] = [];
  private readonly breached = new Map<string, true>();
  private readonly series = new Map<string, DeltaSeries>();
  private readonly settleMs: number;
  private readonly maxOpenPosts: number;
  private readonly breachUsd: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(overrides: Overrides = {}, private readonly now: () => number = Date.now) {
    const maxLabels = intSetting('METRICS_MAX_LABEL_VALUES', overrides, { min: 1 });
    this.personas = new LabelLimiter(maxLabels);
    this.models = new LabelLimiter(maxLabels);
    this.operations = new LabelLimiter(maxLabels);
    this.settleMs = intSetting('METRICS_POST_SETTLE_MS', overrides, { min: 1 });
    this.maxOpenPosts = intSetting('METRICS_MAX_OPEN_POSTS', overrides, { min: 1 });
    const target = Number(setting('METRICS_COST_PER_POST_TARGET_USD', overrides));
    this.breachUsd = Number(setting('METRICS_COST_PER_POST_BREACH_USD', overrides));
    this.m.target.set(target);
    this.m.breachLine.set(this.breachUsd);
  }

  /** Starts the timer that observes settled posts. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.settle(), Math.max(50, Math.min(5000, Math.floor(this.settleMs / 2))));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  record(result: CommittedCosts): void {
    for (const d of result.deltas) {
      const usd = Number(d.amount_usd); // exact decimal → float64, for monitoring only (see above)
      if (!Number.isFinite(usd)) continue;
      const series = this.seriesFor(d);
      series.allCosts.inc(usd);
      series.costEvents.inc(d.events);
      series.byType?.inc(usd);
    }
    const now = this.now();
    for (const p of result.posts) {
      const usd = Number(p.amount_nano) / 1e9; // exact nano-dollars → float64, for monitoring only (see above)
      const previous = this.open.get(p.post_id);
      const before = previous?.total ?? 0;
      const total = before + usd;
      let post = previous;
      if (post) this.open.delete(p.post_id); // re-inserted below, so Map order is least-recently-updated first
      else {
        // Settled posts' records are reused: a record lives through several batches, and a new one
        // per post was promoted and then dropped by the collector.
        post = this.spare.pop() ?? { id: '', persona: '', total: 0, updatedAt: 0 };
        post.id = p.post_id;
      }
      post.persona = this.personas.value(p.persona_id);
      post.total = total;
      post.updatedAt = now;
      this.open.set(p.post_id, post);
      if (total >= this.breachUsd && (previous === undefined || before < this.breachUsd) && !this.breached.has(p.post_id)) {
        this.m.breaches.inc({ persona_id: post.persona });
        this.breached.set(p.post_id, true);
        if (this.breached.size > this.maxOpenPosts) this.breached.delete(this.breached.keys().next().value as string);
      }
    }
    this.observeOldest(this.open.size - this.maxOpenPosts, Infinity);
    this.m.openPosts.set(this.open.size);
  }

  /** Observes every post that has been quiet for settleMs. */
  settle(): void {
    this.observeOldest(this.open.size, this.now() - this.settleMs);
    this.m.openPosts.set(this.open.size);
  }

  /**
   * Observes and drops up to `count` of the least recently updated posts, stopping at the first
   * one updated after `updatedBefore`. One iterator for the whole pass: restarting iteration after
   * each delete would rescan the deleted slots at the front of the Map every time. The totals are
   * observed per persona in one call each (a batch settles thousands of posts).
   */
  private observeOldest(count: number, updatedBefore: number): void {
    if (count <= 0) return;
    const totalsByPersona = new Map<string, number[]>();
    for (const post of this.open.values()) {
      if (count-- <= 0 || post.updatedAt > updatedBefore) break;
      this.open.delete(post.id);
      const totals = totalsByPersona.get(post.persona);
      if (totals) totals.push(post.total);
      else totalsByPersona.set(post.persona, [post.total]);
      if (this.spare.length < MAX_SPARE_POSTS) this.spare.push(post);
    }
    for (const [persona_id, totals] of totalsByPersona) observeAll(this.m.costPerPost, totals, totals.length, { persona_id });
  }

  /**
   * The counters one delta adds to, resolved once per persona, cost type, model and operation: a
   * batch carries thousands of deltas, and resolving labels costs more than the increments.
   */
  private seriesFor(d: CommittedCosts['deltas'][number]): DeltaSeries {
    const key = `${d.persona_id}\u0000${d.cost_type}\u0000${d.model}\u0000${d.operation ?? ''}`;
    let series = this.series.get(key);
    if (series) return series;
    const persona_id = this.personas.value(d.persona_id);
    // Counters start at 0 for every persona so increase() sees the first breach.
    this.m.breaches.inc({ persona_id }, 0);
    series = {
      allCosts: this.m.allCosts.labels({ cost_type: d.cost_type, persona_id }),
      costEvents: this.m.costEvents.labels({ cost_type: d.cost_type, persona_id }),
      byType:
        d.cost_type === 'openai_api' ? this.m.openai.labels({ model: this.models.value(d.model), persona_id })
        : d.cost_type === 'kubernetes' ? this.m.kubernetes.labels({ persona_id })
        : d.cost_type === 'vector_db' ? this.m.vectorDb.labels({ operation: this.operations.value(d.operation ?? d.model), persona_id })
        : undefined,
    };
    // Bounded like the series themselves: past the label limits, new keys share "_other" series.
    if (this.series.size < MAX_CACHED_SERIES) this.series.set(key, series);
    return series;
  }
}
