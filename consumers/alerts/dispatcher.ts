import Redis from 'ioredis';
import { Logger } from '../../src/logging';
import { ChannelName, Deliverer, DeliveryOutcome, Notification, NOTIFIED_PREFIX, Origin } from '../../src/notify';
import { CostAnomaly } from '../../src/contracts/anomaly';
import { EscalationCoalescer, FollowUp, followUp, Held } from './coalescing';
import { Grouper } from './grouping';
import { alertMetrics } from './metrics';
import { route, RoutingConfig } from './routing';
import { anomalyNotification, groupNotification } from './templates';

export interface Plan {
  notification: Notification;
  channels: ChannelName[];
}

/** A held escalation's record: where it came from, and how to release it (its offset) once sent or superseded. */
export interface HeldRecord {
  origin?: Origin;
  release: () => void;
}

/** A coalesced follow-up ready to execute; call `release` after it has been executed. */
export interface DueFollowUp {
  plan: Plan;
  release: () => void;
}

/**
 * Turns anomaly states into deliveries. `plan` makes the order-sensitive decisions (routing,
 * grouping, escalation coalescing) and is awaited message by message; `execute` sends on every
 * channel independently. A held escalation (plan answers 'held') is released by its caller's
 * `release` only once the follow-up standing for it has been executed, so its offset is not
 * committed before that (see takeFollowUps).
 */
export class Dispatcher {
  private readonly metrics = alertMetrics();
  private readonly coalescer: EscalationCoalescer<HeldRecord>;

  constructor(
    private readonly o: { redis: Redis; deliverer: Deliverer; grouper: Grouper; routing: RoutingConfig; log: Logger; coalesceMs?: number; clock?: { now(): number } },
  ) {
    this.coalescer = new EscalationCoalescer(o.coalesceMs ?? 0, o.clock);
  }

  async plan(a: CostAnomaly, origin?: Origin, release: () => void = () => undefined): Promise<Plan | 'held' | null> {
    const n = anomalyNotification(a, origin);
    if (a.status === 'resolved') {
      const offer = this.coalescer.offer(a, { origin, release });
      // Escalations still held are not cancelled by the resolution: they go out first, as one follow-up.
      if (offer.decision === 'send' && offer.superseded.length > 0) await this.sendOvertaken(offer.superseded);
      // Resolution notices go where the anomaly was announced (PagerDuty resolves its incident).
      const channels = (await this.o.redis.smembers(NOTIFIED_PREFIX + a.anomaly_id)) as ChannelName[];
      this.metrics.anomalies.inc({ outcome: channels.length ? 'resolved' : 'unrouted' });
      return channels.length ? { notification: n, channels: channels.sort() } : null;
    }
    const channels = route(a, this.o.routing);
    if (channels.length === 0) {
      this.metrics.anomalies.inc({ outcome: 'unrouted' });
      return null;
    }
    const admission = await this.o.grouper.admit(a, channels);
    if (admission.decision === 'fold') {
      this.metrics.anomalies.inc({ outcome: 'folded' });
      await this.o.deliverer.recordSuperseded(n, channels, 'folded');
      return null;
    }
    if (this.coalescer.offer(a, { origin, release }).decision === 'hold') {
      this.metrics.anomalies.inc({ outcome: 'coalesced' });
      return 'held';
    }
    this.metrics.anomalies.inc({ outcome: 'routed' });
    return { notification: n, channels };
  }

  /**
   * Follow-ups whose coalescing window has closed (every one held, when `all`: on shutdown and
   * rebalance). The states each stands for are recorded `coalesced` first, so a replay that groups
   * them differently never sends one alone; the follow-up itself is the latest state, at the
   * highest severity held, on the channels that severity routes to.
   */
  async takeFollowUps(all = false): Promise<DueFollowUp[]> {
    const out: DueFollowUp[] = [];
    for (const f of this.coalescer.take(all)) out.push(await this.followUpPlan(f));
    return out;
  }

  private async followUpPlan(f: FollowUp<HeldRecord>): Promise<DueFollowUp> {
    const channels = route(f.anomaly, this.o.routing);
    await this.recordCoalesced(f.superseded, channels);
    return { plan: { notification: this.followUpNotification(f), channels }, release: () => f.held.forEach((h) => h.item.release()) };
  }

  /** The replay guard for coalesced states; if it cannot be written the follow-up still goes out (a replay might then send one of them alone). */
  private async recordCoalesced(held: Held<HeldRecord>[], channels?: ChannelName[]): Promise<void> {
    for (const h of held) {
      await this.o.deliverer
        .recordSuperseded(anomalyNotification(h.anomaly), channels ?? route(h.anomaly, this.o.routing), 'coalesced')
        .catch((err) => this.o.log.warn({ err, alert: h.anomaly.anomaly_id, sequence: h.anomaly.sequence }, 'could not record a coalesced escalation'));
    }
  }

  private followUpNotification(f: FollowUp<HeldRecord>): Notification {
    const n = anomalyNotification(f.anomaly, f.representative.item.origin);
    const steps = f.superseded.length + 1;
    if (steps > 1) n.lines.push(['Escalations', `${steps} since the last notice`]);
    return n;
  }

  /** Held escalations a resolution overtook: sent now as their follow-up, then released. */
  private async sendOvertaken(held: Held<HeldRecord>[]): Promise<void> {
    const due = await this.followUpPlan(followUp(held));
    await this.execute(due.plan);
    due.release();
  }

  /** Sends on each channel concurrently; a failure on one is dead-lettered there and never blocks the rest. */
  async execute(plan: Plan): Promise<Record<string, DeliveryOutcome>> {
    const outcomes = await Promise.all(plan.channels.map(async (c) => [c, await this.o.deliverer.deliver(plan.notification, c)] as const));
    return Object.fromEntries(outcomes);
  }

  /** Sends the summaries of closed grouping windows. */
  async flushGroups(now = Date.now()): Promise<number> {
    let sent = 0;
    for (const { window, count } of await this.o.grouper.due(now)) {
      await this.execute({ notification: groupNotification({ ...window, count }), channels: window.channels });
      await this.o.grouper.done(window.id);
      sent++;
    }
    return sent;
  }
}
