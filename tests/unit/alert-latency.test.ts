import { alertLatency, Notice } from '../../benchmarks/alert-latency';
import { parseRouting, seedSeverityRouting } from '../../consumers/alerts/routing';
import { anomaly } from '../../testkit/receivers';

describe('bench:control splits first-notice latency from the coalesced follow-up', () => {
  const routing = parseRouting([], seedSeverityRouting);
  const records = [
    { value: anomaly({ anomaly_id: 'a', persona_id: 'p', sequence: 1, status: 'open', severity: 'medium' }), at: 1000 },
    { value: anomaly({ anomaly_id: 'a', persona_id: 'p', sequence: 2, status: 'escalated', severity: 'high' }), at: 1400 },
    { value: anomaly({ anomaly_id: 'a', persona_id: 'p', sequence: 3, status: 'escalated', severity: 'critical' }), at: 1900 },
  ];
  const n = (channel: Notice['channel'], at: number, body = String(at)): Notice => ({ anomalyId: 'a', channel, resolved: false, body, at });

  it('the first notice is timed from the open record on its own channels; the follow-up on the top severity\'s channels', () => {
    const m = alertLatency(records, [n('slack', 1200), n('slack', 4100), n('pagerduty', 4100), n('email', 4150)], routing, 3000);
    expect(m).toMatchObject({ anomalies: 1, anomaly_states: 3, expected: 3, delivered: 3, lost: 0, duplicates: 0, notices_per_anomaly_max: 2 });
    expect(m.first_notice_ms).toEqual([200]);
    expect(m.follow_up_from_open_ms).toEqual([3100, 3100, 3150]);
    expect(m.follow_up_from_last_escalation_ms).toEqual([2200, 2200, 2250]);
  });

  it('counts a missing channel as lost and a repeated body as a duplicate', () => {
    const m = alertLatency(records, [n('slack', 1200, 'x'), n('slack', 1300, 'x'), n('pagerduty', 4100)], routing, 3000);
    expect(m).toMatchObject({ expected: 3, delivered: 2, lost: 1, duplicates: 1 });
  });

  it('a top-severity channel left silent is lost even when the anomaly resolved within the window (the resolution sends what is held first)', () => {
    const resolved = { value: anomaly({ anomaly_id: 'a', persona_id: 'p', sequence: 4, status: 'resolved', severity: 'critical' }), at: 3000 };
    expect(alertLatency([...records, resolved], [n('slack', 1200)], routing, 3000)).toMatchObject({ expected: 3, delivered: 1, lost: 2 });
  });
});
