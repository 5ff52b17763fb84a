import { intSetting, listSetting, Overrides, setting } from '../../../src/config';
import { ChannelName } from '../routing';
import { Channel } from './channel';
import { EmailChannel } from './email';
import { PagerDutyChannel } from './pagerduty';
import { SlackChannel } from './slack';

export { DeliveryError } from './channel';
export type { Channel } from './channel';

/** The three channels configured from settings (URLs, keys and SMTP from env/secrets). */
export function channelsFromSettings(overrides: Overrides = {}): Map<ChannelName, Channel> {
  return new Map<ChannelName, Channel>([
    ['slack', new SlackChannel(setting('ALERT_SLACK_WEBHOOK_URL', overrides), intSetting('ALERT_SLACK_TIMEOUT_MS', overrides, { min: 1 }))],
    ['pagerduty', new PagerDutyChannel(setting('ALERT_PAGERDUTY_URL', overrides), setting('ALERT_PAGERDUTY_ROUTING_KEY', overrides), intSetting('ALERT_PAGERDUTY_TIMEOUT_MS', overrides, { min: 1 }))],
    ['email', new EmailChannel(setting('ALERT_SMTP_URL', overrides), setting('ALERT_EMAIL_FROM', overrides), listSetting('ALERT_EMAIL_TO', overrides), intSetting('ALERT_EMAIL_TIMEOUT_MS', overrides, { min: 1 }))],
  ]);
}
