import { ConfigError } from '../../src/errors';
import { ChannelName, CHANNELS } from '../../src/notify/notification';
import { AnomalyType, SEVERITIES, Severity } from '../../src/contracts/anomaly';

export interface RouteRule {
  match: { severity?: Severity[]; anomaly_type?: AnomalyType[]; persona_id?: string[] };
  channels: ChannelName[];
}

export interface RoutingConfig {
  rules: RouteRule[];
  bySeverity: Record<Severity, ChannelName[]>;
}

/** Seed defaults: critical → Slack, PagerDuty, email; high → Slack, PagerDuty; medium → Slack; low → email. */
export const seedSeverityRouting: Record<Severity, ChannelName[]> = {
  critical: ['slack', 'pagerduty', 'email'],
  high: ['slack', 'pagerduty'],
  medium: ['slack'],
  low: ['email'],
};

function checkChannels(where: string, channels: unknown): ChannelName[] {
  if (!Array.isArray(channels) || channels.some((c) => !(CHANNELS as readonly string[]).includes(c))) {
    throw new ConfigError(`${where}: channels must be a list of ${CHANNELS.join(', ')}, got ${JSON.stringify(channels)}`);
  }
  return channels as ChannelName[];
}

/** Validates routing read from ALERT_ROUTES and ALERT_SEVERITY_ROUTING. */
export function parseRouting(rules: unknown, bySeverity: unknown): RoutingConfig {
  if (!Array.isArray(rules)) throw new ConfigError('ALERT_ROUTES must be a JSON array of {"match":{…},"channels":[…]}');
  const parsed = rules.map((r, i) => {
    if (!r || typeof r !== 'object' || typeof r.match !== 'object') throw new ConfigError(`ALERT_ROUTES[${i}] needs a "match" object`);
    return { match: r.match, channels: checkChannels(`ALERT_ROUTES[${i}]`, r.channels) } as RouteRule;
  });
  const sev = (bySeverity ?? {}) as Record<string, unknown>;
  const table = Object.fromEntries(SEVERITIES.map((s) => [s, checkChannels(`ALERT_SEVERITY_ROUTING.${s}`, sev[s] ?? [])])) as Record<Severity, ChannelName[]>;
  return { rules: parsed, bySeverity: table };
}

function personaMatches(patterns: string[], persona: string): boolean {
  return patterns.some((p) => (p.endsWith('*') ? persona.startsWith(p.slice(0, -1)) : p === persona));
}

/** Channels for an anomaly: the first matching rule, else the severity table. Deduplicated, in order. */
export function route(a: { severity: Severity; anomaly_type: AnomalyType; persona_id: string }, cfg: RoutingConfig): ChannelName[] {
  const rule = cfg.rules.find(
    ({ match: m }) =>
      (!m.severity || m.severity.includes(a.severity)) &&
      (!m.anomaly_type || m.anomaly_type.includes(a.anomaly_type)) &&
      (!m.persona_id || personaMatches(m.persona_id, a.persona_id)),
  );
  return [...new Set(rule ? rule.channels : cfg.bySeverity[a.severity])];
}
