import Redis from 'ioredis';
import { Logger } from '../../src/logging';
import { CostAnomaly } from './anomaly';
import { ChannelName, Deliverer, DeliveryOutcome, Notification, NOTIFIED_PREFIX, Origin } from '../../src/notify';
import { Grouper } from './grouping';
import { alertMetrics } from './metrics';
import { route, RoutingConfig } from './routing';
import { anomalyNotification, groupNotification } from './templates';

export interface Plan {
  notification: Notification;
  channels: ChannelName[];
}

/**
 * Turns anomaly states into deliveries. `plan` makes the order-sensitive decisions (routing,
 * grouping) and is awaited message by message; `execute` sends on every channel independently.
 */
export class Dispatcher {
  private readonly metrics = alertMetrics();

  constructor(
    private readonly o: { redis: Redis; deliverer: Deliverer; grouper: Grouper; routing: RoutingConfig; log: Logger },
  ) {}

  async plan(a: CostAnomaly, origin?: Origin): Promise<Plan | null> {
    const n = anomalyNotification(a, origin);
    if (a.status === 'resolved') {
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
    this.metrics.anomalies.inc({ outcome: 'routed' });
    return { notification: n, channels };
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
