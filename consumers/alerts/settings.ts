import { durationSetting, intSetting, jsonSetting, Overrides, setting } from '../../src/config';
import { sessionTimeoutMs } from '../../src/kafka/options';
import { parseRouting, RoutingConfig } from './routing';

export interface AlertSettings {
  groupId: string;
  sessionTimeoutMs: number;
  /** ALERT_ROUTES tried first, then ALERT_SEVERITY_ROUTING. */
  routing: RoutingConfig;
  /** Repeats within this fold into one summary (0: never fold). */
  groupIntervalMs: number;
  /** Escalations within this of the last notice go out as one follow-up (0: each at once). */
  coalesceMs: number;
  /** How often held follow-ups, closed group windows and offsets are seen to. */
  tickMs: number;
  /** Anomalies whose deliveries may be in flight at once before fetching pauses. */
  maxInFlight: number;
}

/** The alert consumer's settings: explicit → environment → default (src/config/defaults.ts); the channels are src/notify's. */
export function alertSettings(overrides: Overrides = {}, env: NodeJS.ProcessEnv = process.env): AlertSettings {
  return {
    groupId: setting('ALERT_GROUP_ID', overrides, env),
    sessionTimeoutMs: sessionTimeoutMs(overrides),
    routing: parseRouting(jsonSetting('ALERT_ROUTES', overrides, undefined, env), jsonSetting('ALERT_SEVERITY_ROUTING', overrides, undefined, env)),
    groupIntervalMs: durationSetting('ALERT_GROUP_INTERVAL_MS', 'ms', overrides, {}, env),
    coalesceMs: durationSetting('ALERT_ESCALATION_COALESCE_MS', 'ms', overrides, {}, env),
    tickMs: durationSetting('ALERT_TICK_MS', 'ms', overrides, { min: 10 }, env),
    maxInFlight: intSetting('ALERT_MAX_IN_FLIGHT', overrides, { min: 1 }, env),
  };
}
