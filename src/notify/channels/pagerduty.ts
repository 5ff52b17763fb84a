import { Notification } from '../notification';
import { pagerDutyBody } from '../templates';
import { Channel, postJson } from './channel';

/** PagerDuty Events API v2: trigger and resolve on dedup_key = anomaly id; answers 202. */
export class PagerDutyChannel implements Channel {
  readonly name = 'pagerduty' as const;
  constructor(private readonly url: string, private readonly routingKey: string, private readonly timeoutMs: number) {}
  get configured() {
    return this.routingKey !== '' && this.url !== '';
  }
  send(n: Notification) {
    return postJson('pagerduty', this.url, pagerDutyBody(n, this.routingKey), this.timeoutMs);
  }
}
