import { CostEvent } from '../../src/events';
import { formatUsd } from '../../src/money';

/** Columns written for each event, in COPY order (ingested_at takes its default). */
export const COST_EVENT_COLUMNS = [
  'event_id', 'event_time', 'cost_type', 'amount_usd', 'currency', 'persona_id', 'post_id', 'operation', 'service',
  'correlation_id', 'request_id', 'model', 'input_tokens', 'output_tokens', 'cached_input_tokens', 'cpu_cores',
  'memory_gb', 'duration_ms', 'vector_operation', 'vector_units', 'price_source', 'price_version', 'price_status',
  'unit_prices', 'metadata', 'kafka_partition', 'kafka_offset',
] as const;

const NULL = '\\N';

/** Escapes a value for COPY's text format: backslash, newline, carriage return and tab. */
export function copyText(value: string | null | undefined): string {
  if (value === null || value === undefined) return NULL;
  return value.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}

function micro(units: bigint): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  return `${negative ? '-' : ''}${abs / 1_000_000n}.${(abs % 1_000_000n).toString().padStart(6, '0')}`;
}

export interface StoredEvent {
  event: CostEvent;
  partition: number;
  offset: string;
  /** The original message, kept so a row Postgres refuses can be dead-lettered as it came. */
  key?: Buffer | null;
  value?: Buffer | null;
}

/** One COPY text line (with trailing newline) for an event. */
export function copyLine({ event: e, partition, offset }: StoredEvent): string {
  const llm = e.llm_usage;
  const compute = e.compute_usage;
  const vector = e.vector_db_usage;
  const fields = [
    copyText(e.event_id),
    e.event_time.toISOString(),
    e.cost_type,
    formatUsd(e.amount),
    copyText(e.currency),
    copyText(e.persona_id),
    copyText(e.post_id),
    copyText(e.operation),
    copyText(e.service),
    copyText(e.correlation_id),
    copyText(e.request_id),
    copyText(llm?.model),
    llm ? String(llm.input_tokens) : NULL,
    llm ? String(llm.output_tokens) : NULL,
    llm ? String(llm.cached_input_tokens) : NULL,
    compute ? micro(compute.cpu_cores) : NULL,
    compute ? micro(compute.memory_gb) : NULL,
    compute ? String(compute.duration_ms) : NULL,
    copyText(vector?.operation),
    vector ? String(vector.units) : NULL,
    copyText(e.price.source),
    copyText(e.price.version),
    e.price.status,
    copyText(JSON.stringify(e.price.unit_prices ?? {})),
    copyText(JSON.stringify(e.metadata ?? {})),
    String(partition),
    offset,
  ];
  return fields.join('\t') + '\n';
}
