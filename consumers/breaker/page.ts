import { Notification } from '../../src/notify/notification';
import { Transition } from './state-machine';

/** The notification that pages a human when a persona reaches the `page` level. */
export function pageNotification(t: Transition): Notification {
  return {
    alert_id: `control:${t.transition_id}`,
    sequence: 0,
    kind: 'page',
    persona_id: t.persona_id,
    anomaly_type: null,
    severity: 'critical',
    title: '🛑 COST CIRCUIT BREAKER: HUMAN NEEDED',
    lines: [
      ['Persona', t.persona_id],
      ['Control', `${t.to_level} (paused until ${t.control.paused_until ?? '—'})`],
      ['Reason', t.reason],
      ['Anomaly', t.anomaly_id ?? '—'],
    ],
    summary: `Persona ${t.persona_id} paused and still spending: ${t.reason}`,
    dedup_key: `control:${t.persona_id}`,
    event_action: 'trigger',
  };
}
