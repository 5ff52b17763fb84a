import Redis from 'ioredis';
import { Kafka, Producer } from 'kafkajs';
import { Pool } from 'pg';
import { Overrides, topics } from '../config';
import { Logger } from '../logging';
import { Channel, createChannels } from './channels';
import { Deliverer } from './delivery';
import { ChannelName } from './notification';
import { notifierSettings, NotifierScope } from './settings';
import { producerOptions } from '../kafka/options';

export { createChannels, DeliveryError, parseRetryAfter } from './channels';
export type { Channel, ChannelSettings, SendResult } from './channels';
export { Deliverer, NOTIFIED_PREFIX } from './delivery';
export type { DeliveryOutcome, SupersededOutcome } from './delivery';
export { CHANNELS } from './notification';
export type { ChannelName, Notification, Origin } from './notification';
export { notifierSettings } from './settings';
export type { NotifierScope, NotifierSettings } from './settings';
export { emailBody, pagerDutyBody, slackBody } from './templates';

/** A deliverer with its own dead-letter producer; close() releases both. */
export interface Notifier {
  deliverer: Deliverer;
  dlq: Producer;
  close(): Promise<void>;
}

/**
 * The notification building block from settings: channels, delivery with retries, the exactly-once
 * claim and the dead-letter producer. `groupId` is the caller's consumer group (dead-letter headers).
 */
export async function createNotifier(deps: {
  scope: NotifierScope;
  groupId: string;
  overrides: Overrides;
  redis: Redis;
  pool: Pool;
  kafka: Kafka;
  log: Logger;
  channels?: Map<ChannelName, Channel>;
}): Promise<Notifier> {
  const { channels, ...s } = notifierSettings(deps.scope, deps.overrides);
  const dlq = deps.kafka.producer(producerOptions());
  await dlq.connect();
  const deliverer = new Deliverer({
    redis: deps.redis,
    pool: deps.pool,
    dlq,
    deadLetterTopic: topics(deps.overrides).deadLetter,
    groupId: deps.groupId,
    log: deps.log,
    channels: deps.channels ?? createChannels(channels),
    ...s,
  });
  return {
    deliverer,
    dlq,
    async close() {
      await deliverer.close();
      await dlq.disconnect();
    },
  };
}
