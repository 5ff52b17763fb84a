import Redis from 'ioredis';
import { CostAnomaly, Severity, severityRank } from '../../src/contracts/anomaly';
import { ChannelName } from '../../src/notify/notification';

const WINDOW_PREFIX = 'finops:alerts:window:';
const FOLD_PREFIX = 'finops:alerts:fold:';
const META_PREFIX = 'finops:alerts:group:';
/** Sorted set of group windows by closing time, for the summary tick. */
export const GROUPS_DUE = 'finops:alerts:groups-due';

export interface GroupWindow {
  id: string;
  persona_id: string;
  anomaly_type: CostAnomaly['anomaly_type'];
  severity: Severity;
  /** The anomaly that opened the window (PagerDuty dedup key of the summary). */
  leader: string;
  channels: ChannelName[];
  start: number;
  intervalMs: number;
}

export type Admission = { decision: 'send' } | { decision: 'fold'; windowId: string };

/**
 * Folds repeats for one persona and anomaly type within an interval: the first anomaly opens a
 * window and is sent at once; later distinct anomalies of lower or equal severity are counted, and
 * one summary with the count goes out when the window closes. A higher severity is sent at once.
 * Later states of the window's own anomaly (escalation) are always sent.
 */
export class Grouper {
  constructor(private readonly redis: Redis, private readonly intervalMs: number) {}

  async admit(a: CostAnomaly, channels: ChannelName[], now = Date.now()): Promise<Admission> {
    if (this.intervalMs <= 0) return { decision: 'send' };
    const key = `${WINDOW_PREFIX}${a.persona_id}:${a.anomaly_type}`;
    const fresh: GroupWindow = {
      id: `${a.persona_id}:${a.anomaly_type}:${now}`, persona_id: a.persona_id, anomaly_type: a.anomaly_type,
      severity: a.severity, leader: a.anomaly_id, channels, start: now, intervalMs: this.intervalMs,
    };
    if ((await this.redis.set(key, JSON.stringify(fresh), 'PX', this.intervalMs, 'NX')) === 'OK') return { decision: 'send' };
    const raw = await this.redis.get(key);
    if (!raw) return { decision: 'send' }; // lapsed in between
    const w = JSON.parse(raw) as GroupWindow;
    if (w.leader === a.anomaly_id) return { decision: 'send' };
    if (severityRank(a.severity) > severityRank(w.severity)) {
      const raised: GroupWindow = { ...w, severity: a.severity, leader: a.anomaly_id, channels: [...new Set([...w.channels, ...channels])] };
      await this.redis.set(key, JSON.stringify(raised), 'KEEPTTL', 'XX');
      return { decision: 'send' };
    }
    const ttlMs = w.intervalMs + 24 * 3600_000;
    await this.redis.multi()
      .sadd(FOLD_PREFIX + w.id, a.anomaly_id)
      .pexpire(FOLD_PREFIX + w.id, ttlMs)
      .set(META_PREFIX + w.id, JSON.stringify({ ...w, channels: [...new Set([...w.channels, ...channels])] }), 'PX', ttlMs)
      .zadd(GROUPS_DUE, w.start + w.intervalMs, w.id)
      .exec();
    return { decision: 'fold', windowId: w.id };
  }

  /** Windows that have closed, with how many anomalies were folded into each. */
  async due(now = Date.now(), limit = 50): Promise<{ window: GroupWindow; count: number }[]> {
    const ids = await this.redis.zrangebyscore(GROUPS_DUE, '-inf', now, 'LIMIT', 0, limit);
    const out: { window: GroupWindow; count: number }[] = [];
    for (const id of ids) {
      const [raw, count] = await Promise.all([this.redis.get(META_PREFIX + id), this.redis.scard(FOLD_PREFIX + id)]);
      if (!raw || count === 0) {
        await this.redis.zrem(GROUPS_DUE, id);
        continue;
      }
      out.push({ window: JSON.parse(raw) as GroupWindow, count });
    }
    return out;
  }

  async done(id: string): Promise<void> {
    await this.redis.zrem(GROUPS_DUE, id);
  }
}
