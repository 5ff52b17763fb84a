import { intSetting, listSetting, Overrides, setting, SettingName } from '../config';
import { ChannelSettings } from './channels';

/** The knobs every notifier has; each is `ALERT_<knob>` for alerts and `BREAKER_PAGE_<knob>` for the breaker's pages. */
const KNOBS = [
  'SLACK_WEBHOOK_URL', 'SLACK_TIMEOUT_MS', 'PAGERDUTY_URL', 'PAGERDUTY_ROUTING_KEY', 'PAGERDUTY_TIMEOUT_MS',
  'SMTP_URL', 'EMAIL_FROM', 'EMAIL_TO', 'EMAIL_TIMEOUT_MS',
  'MAX_ATTEMPTS', 'RETRY_INITIAL_MS', 'RETRY_MAX_MS', 'CLAIM_TTL_MS', 'DEDUP_TTL_SECONDS', 'CHANNEL_CONCURRENCY',
] as const;
type Knob = (typeof KNOBS)[number];

/** Whose notifier: the alert consumer, or the circuit breaker paging a human. */
export type NotifierScope = 'alerts' | 'breaker';

export interface NotifierSettings {
  channels: ChannelSettings;
  maxAttempts: number;
  retryInitialMs: number;
  retryMaxMs: number;
  claimTtlMs: number;
  dedupTtlSeconds: number;
  concurrency: number;
}

/**
 * The setting a knob is read from. The breaker's `BREAKER_PAGE_<knob>` defaults to empty, which
 * means "as `ALERT_<knob>`": a deployment that configured only the alert channels pages there, as
 * before, and one that wants pages elsewhere (another Slack webhook, a PagerDuty service) sets them.
 */
export function knobSetting(scope: NotifierScope, knob: Knob, overrides: Overrides = {}): SettingName {
  const own = `BREAKER_PAGE_${knob}` as SettingName;
  return scope === 'breaker' && setting(own, overrides) !== '' ? own : (`ALERT_${knob}` as SettingName);
}

export function notifierSettings(scope: NotifierScope, overrides: Overrides = {}): NotifierSettings {
  const str = (k: Knob) => setting(knobSetting(scope, k, overrides), overrides);
  const int = (k: Knob, min = 0) => intSetting(knobSetting(scope, k, overrides), overrides, { min });
  return {
    channels: {
      slackWebhookUrl: str('SLACK_WEBHOOK_URL'),
      slackTimeoutMs: int('SLACK_TIMEOUT_MS', 1),
      pagerDutyUrl: str('PAGERDUTY_URL'),
      pagerDutyRoutingKey: str('PAGERDUTY_ROUTING_KEY'),
      pagerDutyTimeoutMs: int('PAGERDUTY_TIMEOUT_MS', 1),
      smtpUrl: str('SMTP_URL'),
      emailFrom: str('EMAIL_FROM'),
      emailTo: listSetting(knobSetting(scope, 'EMAIL_TO', overrides), overrides),
      emailTimeoutMs: int('EMAIL_TIMEOUT_MS', 1),
    },
    maxAttempts: int('MAX_ATTEMPTS', 1),
    retryInitialMs: int('RETRY_INITIAL_MS'),
    retryMaxMs: int('RETRY_MAX_MS'),
    claimTtlMs: int('CLAIM_TTL_MS', 100),
    dedupTtlSeconds: int('DEDUP_TTL_SECONDS', 1),
    concurrency: int('CHANNEL_CONCURRENCY', 1),
  };
}
