import { PostCostDetector } from './detectors/post-cost-detector';
import { report, resolve } from './lifecycle';
import { NO_COHORT_YET, PostState } from './persona-state';
import { AnomalySettings } from './settings';
import { AnomalyRecord } from './types';

/** Per-post running totals across partitions, least recently touched first, bounded in number. */
export class Posts {
  /** All posts held, least recently touched first (Map order), across partitions. */
  readonly byKey = new Map<string, PostState>();
  private readonly detector: PostCostDetector;

  constructor(private readonly s: AnomalySettings, private readonly postTarget: (personaId: string) => bigint) {
    this.detector = new PostCostDetector(s.post);
  }

  get size(): number {
    return this.byKey.size;
  }

  touch(partition: number, personaId: string, postId: string, t: number): PostState {
    // Keyed by the post id alone (post ids are unique across personas, as in post_costs); the rare
    // id reused by another persona gets a persona-qualified key, so it never shares totals.
    let key = postId;
    let post = this.byKey.get(key);
    if (post && post.personaId !== personaId) {
      key = `${personaId}\u0000${postId}`;
      post = this.byKey.get(key);
    }
    if (post) {
      this.byKey.delete(key); // re-insert: Map order is least recently touched first
    } else {
      post = {
        key, postId, personaId, partition, cost: 0n, engagements: 0, follows: 0, revenue: 0n, firstEventTime: t, lastEventTime: t, anomaly: null,
        cohort: NO_COHORT_YET, outcomeAt: 0, final: false,
      };
    }
    if (t > post.lastEventTime) post.lastEventTime = t;
    if (t < post.firstEventTime) post.firstEventTime = t;
    // Keyed by the post's own string, not this event's copy of it: otherwise every post holds two
    // copies of its id (a heap snapshot showed 200,901 id strings for 100,000 posts).
    this.byKey.set(post.key, post);
    return post;
  }

  evaluate(post: PostState, eventId: string, publishedAt: number, wall: number, out: AnomalyRecord[]): void {
    const finding = this.detector.evaluate({ postId: post.postId, cost: post.cost, target: this.postTarget(post.personaId) });
    if (!finding) return;
    const { anomaly, emitted } = report(post.anomaly ?? undefined, {
      personaId: post.personaId, slot: 'post_cost_threshold', windowKey: post.postId, windowStart: post.firstEventTime, windowEnd: post.lastEventTime,
      postId: post.postId, finding, triggeringIds: [eventId], triggerPublishedAt: publishedAt, now: wall,
    });
    post.anomaly = anomaly;
    if (emitted) out.push(emitted);
  }

  /**
   * Idle posts go once their cohort is judged (a flagged one is resolved: it has stopped spending);
   * beyond the bound, the least recent go, whose cohort keeps what they brought so far.
   */
  evict(watermarkOf: (partition: number) => number, wall: number, out: AnomalyRecord[]): void {
    for (const post of this.byKey.values()) {
      const wm = watermarkOf(post.partition);
      const idle = wm - post.lastEventTime >= this.s.postIdleMs && (post.cohort < 0 || wm >= post.cohort + this.s.cohortMs + this.s.outcomeHorizonMs);
      if (!idle && this.byKey.size <= this.s.maxPosts) break;
      this.evictPost(post, wall, out, idle ? 'the post has stopped spending' : 'evicted to bound memory');
    }
  }

  private evictPost(post: PostState, wall: number, out: AnomalyRecord[], reason: string): void {
    if (post.anomaly) {
      post.anomaly.windowEnd = post.lastEventTime;
      out.push(resolve(post.anomaly, post.personaId, wall, reason));
    }
    this.byKey.delete(post.key);
  }

  restore(posts: PostState[]): void {
    for (const post of posts) {
      this.byKey.delete(post.key);
      this.byKey.set(post.key, post);
    }
  }

  dropPartition(n: number): void {
    for (const post of this.byKey.values()) if (post.partition === n) this.byKey.delete(post.key);
  }

  openAnomalies(): number {
    let n = 0;
    for (const post of this.byKey.values()) if (post.anomaly) n++;
    return n;
  }
}
