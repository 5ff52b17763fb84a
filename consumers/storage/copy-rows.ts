import { CostEvent } from '../../src/events';
import { formatFixed, formatUsd } from '../../src/money';

/** Columns written for each event, in COPY order (ingested_at takes its default). */
export const COST_EVENT_COLUMNS = [
  'event_id', 'event_time', 'cost_type', 'amount_usd', 'currency', 'persona_id', 'post_id', 'operation', 'service',
  'correlation_id', 'request_id', 'model', 'input_tokens', 'output_tokens', 'cached_input_tokens', 'cpu_cores',
  'memory_gb', 'duration_ms', 'vector_operation', 'vector_units', 'price_source', 'price_version', 'price_status',
  'unit_prices', 'metadata', 'kafka_partition', 'kafka_offset',
] as const;

const NULL = '\\N';

const NEEDS_ESCAPE = /[\\\n\r\t]/;
const ESCAPED = /[\\\n\r\t]/g;

/** Escapes a value for COPY's text format: backslash, newline, carriage return and tab. */
export function copyText(value: string | null | undefined): string {
  if (value === null || value === undefined) return NULL;
  // Testing first is several times cheaper than a replace that finds nothing, the usual case.
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(ESCAPED, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}

const UNESCAPED: Record<number, number> = { 0x5c: 0x5c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09 };

/** The first column of the COPY text line in buf[start, end), unescaped (copyText's inverse). */
export function copyField(buf: Buffer, start: number, end: number): string {
  let tab = buf.indexOf(0x09, start);
  if (tab < 0 || tab > end) tab = end;
  const slash = buf.indexOf(0x5c, start);
  if (slash < 0 || slash >= tab) return buf.toString('utf8', start, tab);
  const out = Buffer.allocUnsafe(tab - start);
  let q = 0;
  for (let p = start; p < tab; p++) out[q++] = buf[p] === 0x5c && p + 1 < tab ? (UNESCAPED[buf[++p]] ?? buf[p]) : buf[p];
  return out.toString('utf8', 0, q);
}

export interface StoredEvent {
  event: CostEvent;
  partition: number;
  offset: string;
  /** The original message, kept so a row Postgres refuses can be dead-lettered as it came. */
  key?: Buffer | null;
  value?: Buffer | null;
}

/** One COPY text line (with trailing newline) for an event; `eventTime` is its event time in ISO 8601, if already at hand. */
export function copyLine({ event: e, partition, offset }: StoredEvent, eventTime = e.event_time.toISOString()): string {
  const llm = e.llm_usage;
  const compute = e.compute_usage;
  const vector = e.vector_db_usage;
  // One template literal, in COST_EVENT_COLUMNS order: several times cheaper than joining an array.
  return `${copyText(e.event_id)}\t${eventTime}\t${e.cost_type}\t${formatUsd(e.amount)}\t${copyText(e.currency)}\t\
${copyText(e.persona_id)}\t${copyText(e.post_id)}\t${copyText(e.operation)}\t${copyText(e.service)}\t\
${copyText(e.correlation_id)}\t${copyText(e.request_id)}\t${copyText(llm?.model)}\t\
${llm ? llm.input_tokens : NULL}\t${llm ? llm.output_tokens : NULL}\t${llm ? llm.cached_input_tokens : NULL}\t\
${compute ? formatFixed(compute.cpu_cores, 6) : NULL}\t${compute ? formatFixed(compute.memory_gb, 6) : NULL}\t${compute ? compute.duration_ms : NULL}\t\
${copyText(vector?.operation)}\t${vector ? vector.units : NULL}\t\
${copyText(e.price.source)}\t${copyText(e.price.version)}\t${e.price.status}\t\
${copyText(JSON.stringify(e.price.unit_prices ?? {}))}\t${copyText(JSON.stringify(e.metadata ?? {}))}\t${partition}\t${offset}\n`;
}
