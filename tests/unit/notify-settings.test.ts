import { pageChannels } from '../../consumers/breaker/settings';
import { ConfigError } from '../../src/errors';
import { notifierSettings } from '../../src/notify/settings';

describe('notifier settings', () => {
  const alerts = { ALERT_SLACK_WEBHOOK_URL: 'https://hooks.example/alerts', ALERT_PAGERDUTY_ROUTING_KEY: 'alerts-key', ALERT_MAX_ATTEMPTS: '4', ALERT_EMAIL_TO: 'a@example.test,b@example.test' };

  it('alerts read ALERT_*', () => {
    const s = notifierSettings('alerts', { ...alerts, BREAKER_PAGE_SLACK_WEBHOOK_URL: 'https://hooks.example/pages' });
    expect(s.channels.slackWebhookUrl).toBe('https://hooks.example/alerts');
    expect(s.maxAttempts).toBe(4);
    expect(s.channels.emailTo).toEqual(['a@example.test', 'b@example.test']);
  });

  it('the breaker pages where the alerts go unless BREAKER_PAGE_* says otherwise', () => {
    const same = notifierSettings('breaker', alerts);
    expect(same.channels.slackWebhookUrl).toBe('https://hooks.example/alerts');
    expect(same.channels.pagerDutyRoutingKey).toBe('alerts-key');
    expect(same.maxAttempts).toBe(4);
    const own = notifierSettings('breaker', { ...alerts, BREAKER_PAGE_SLACK_WEBHOOK_URL: 'https://hooks.example/pages', BREAKER_PAGE_MAX_ATTEMPTS: '9', BREAKER_PAGE_EMAIL_TO: 'oncall@example.test' });
    expect(own.channels.slackWebhookUrl).toBe('https://hooks.example/pages');
    expect(own.channels.pagerDutyRoutingKey).toBe('alerts-key');
    expect(own.maxAttempts).toBe(9);
    expect(own.channels.emailTo).toEqual(['oncall@example.test']);
  });

  it('a bad value names the setting it was read from', () => {
    expect(() => notifierSettings('breaker', { BREAKER_PAGE_MAX_ATTEMPTS: '0' })).toThrow(/BREAKER_PAGE_MAX_ATTEMPTS/);
    expect(() => notifierSettings('breaker', { ALERT_MAX_ATTEMPTS: 'x' })).toThrow(/ALERT_MAX_ATTEMPTS/);
  });

  it('BREAKER_PAGE_CHANNELS takes known channels only', () => {
    expect(pageChannels({ BREAKER_PAGE_CHANNELS: 'pagerduty, slack' })).toEqual(['pagerduty', 'slack']);
    expect(() => pageChannels({ BREAKER_PAGE_CHANNELS: 'pagerduty,sms' })).toThrow(ConfigError);
  });
});
