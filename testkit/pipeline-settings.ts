import { Overrides } from '../src/config';

export { freePort } from './free-port';

/**
 * Anomaly settings under which a baseline forms in seconds (2 s windows instead of a minute), for
 * the demo, end-to-end tests and benchmarks that run the whole pipeline.
 */
export const FAST_ANOMALY_SETTINGS: Overrides = {
  ANOMALY_WINDOW_MS: '2000',
  ANOMALY_ALLOWED_LATENESS_MS: '200',
  ANOMALY_MIN_BASELINE_WINDOWS: '3',
  ANOMALY_MIN_BASELINE_USD: '0.001',
  ANOMALY_MIN_SPEND_USD: '0.002',
  ANOMALY_CHECKPOINT_INTERVAL_MS: '1000',
};

/** Alert channels pointed at local receivers (testkit/receivers.ts), without grouping. */
export function localAlertChannels(httpUrl: string, smtpUrl: string): Overrides {
  return {
    ALERT_SLACK_WEBHOOK_URL: `${httpUrl}/slack`,
    ALERT_PAGERDUTY_URL: `${httpUrl}/pagerduty`,
    ALERT_PAGERDUTY_ROUTING_KEY: 'R0123456789abcdef0123456789abcdE', // Events API v2 keys are 32 characters
    ALERT_SMTP_URL: smtpUrl,
    ALERT_EMAIL_TO: 'oncall@example.com',
    ALERT_GROUP_INTERVAL_MS: '0',
  };
}


