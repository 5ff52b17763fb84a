import { ChannelName } from '../notification';
import { Channel } from './channel';
import { EmailChannel } from './email';
import { PagerDutyChannel } from './pagerduty';
import { SlackChannel } from './slack';

export { DeliveryError, parseRetryAfter } from './channel';
export type { Channel, SendResult } from './channel';

/** Where each channel sends; an empty URL, key or recipient list leaves that channel unconfigured. */
export interface ChannelSettings {
  slackWebhookUrl: string;
  slackTimeoutMs: number;
  pagerDutyUrl: string;
  pagerDutyRoutingKey: string;
  pagerDutyTimeoutMs: number;
  smtpUrl: string;
  emailFrom: string;
  emailTo: string[];
  emailTimeoutMs: number;
}

/** The three channels (URLs, keys and SMTP come from env/secrets through the caller's settings). */
export function createChannels(s: ChannelSettings): Map<ChannelName, Channel> {
  return new Map<ChannelName, Channel>([
    ['slack', new SlackChannel(s.slackWebhookUrl, s.slackTimeoutMs)],
    ['pagerduty', new PagerDutyChannel(s.pagerDutyUrl, s.pagerDutyRoutingKey, s.pagerDutyTimeoutMs)],
    ['email', new EmailChannel(s.smtpUrl, s.emailFrom, s.emailTo, s.emailTimeoutMs)],
  ]);
}
