import type { Pool } from 'pg';
import { formatUsd, nanoFromNumericText } from '../../src/money';
import { DayRange } from '../validation';

// Reads the persona_daily_costs rollup only (never cost_events): with a persona filter this is a
// primary-key range scan of at most days × cost types × models rows.
const BREAKDOWN_SQL = (withPersona: boolean) => `
SELECT GROUPING(day) AS g_day, GROUPING(cost_type) AS g_type, GROUPING(model) AS g_model, GROUPING(persona_id) AS g_persona,
       to_char(day, 'YYYY-MM-DD') AS day, cost_type, model, persona_id, sum(total_usd) AS total_usd, sum(adjustment_usd) AS adjustment_usd, sum(event_count) AS event_count
FROM persona_daily_costs
WHERE day BETWEEN $1::date AND $2::date ${withPersona ? 'AND persona_id = $3' : ''}
GROUP BY GROUPING SETS ((), (day), (cost_type), (model), (persona_id))`;

interface Row {
  g_day: number;
  g_type: number;
  g_model: number;
  g_persona: number;
  day: string | null;
  cost_type: string | null;
  model: string | null;
  persona_id: string | null;
  total_usd: string;
  adjustment_usd: string;
  event_count: string;
}

/** total_cost is the adjusted amount (list + re-pricing adjustments); list_cost what the events were priced at. */
interface Line {
  total_cost: string;
  list_cost: string;
  adjustment: string;
  event_count: number;
}

export interface Breakdown {
  start_date: string;
  end_date: string;
  days: number;
  granularity: 'utc_day';
  persona_id: string | null;
  total_cost: string;
  list_cost: string;
  adjustment: string;
  event_count: number;
  by_day: ({ day: string } & Line)[];
  by_cost_type: ({ cost_type: string } & Line)[];
  by_model: ({ model: string | null } & Line)[];
  by_persona: ({ persona_id: string } & Line)[];
}

const line = (r: Row): Line => {
  const list = nanoFromNumericText(r.total_usd);
  const adjustment = nanoFromNumericText(r.adjustment_usd);
  return { total_cost: formatUsd(list + adjustment), list_cost: formatUsd(list), adjustment: formatUsd(adjustment), event_count: Number(r.event_count) };
};
const byCostDesc = <T extends Line>(a: T, b: T) => {
  const d = nanoFromNumericText(b.total_cost) - nanoFromNumericText(a.total_cost);
  return d > 0n ? 1 : d < 0n ? -1 : 0;
};

export async function costBreakdown(pool: Pool, range: DayRange, personaId: string | null): Promise<Breakdown> {
  const params: unknown[] = [range.startDay, range.endDay];
  if (personaId !== null) params.push(personaId);
  const { rows } = await pool.query<Row>({ name: personaId !== null ? 'api-breakdown-persona' : 'api-breakdown-all', text: BREAKDOWN_SQL(personaId !== null), values: params });
  const is = (r: Row, kind: 'day' | 'type' | 'model' | 'persona' | 'total') =>
    kind === 'total' ? r.g_day && r.g_type && r.g_model && r.g_persona :
    kind === 'day' ? !r.g_day : kind === 'type' ? !r.g_type : kind === 'model' ? !r.g_model : !r.g_persona;
  const total = rows.find((r) => is(r, 'total'));
  const days = new Map(rows.filter((r) => is(r, 'day')).map((r) => [r.day!, line(r)]));
  // Every day of the range appears, with zero when nothing was spent.
  const byDay: Breakdown['by_day'] = [];
  for (let t = Date.parse(`${range.startDay}T00:00:00Z`); t <= Date.parse(`${range.endDay}T00:00:00Z`); t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    byDay.push({ day, ...(days.get(day) ?? { total_cost: formatUsd(0n), list_cost: formatUsd(0n), adjustment: formatUsd(0n), event_count: 0 }) });
  }
  return {
    start_date: range.startDay,
    end_date: range.endDay,
    days: range.days,
    granularity: 'utc_day',
    persona_id: personaId,
    ...(total && total.total_usd !== null ? line(total) : { total_cost: formatUsd(0n), list_cost: formatUsd(0n), adjustment: formatUsd(0n), event_count: 0 }),
    by_day: byDay,
    by_cost_type: rows.filter((r) => is(r, 'type')).map((r) => ({ cost_type: r.cost_type!, ...line(r) })).sort(byCostDesc),
    by_model: rows.filter((r) => is(r, 'model')).map((r) => ({ model: r.model === '' ? null : r.model, ...line(r) })).sort(byCostDesc),
    by_persona: rows.filter((r) => is(r, 'persona')).map((r) => ({ persona_id: r.persona_id!, ...line(r) })).sort(byCostDesc),
  };
}
