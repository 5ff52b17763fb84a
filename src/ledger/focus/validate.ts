import { usdToNano } from '../../money';
import { FOCUS_SPEC_COLUMNS, FOCUS_VERSION, FocusColumnSpec } from './columns';

/**
 * Checks a FOCUS dataset, row by row, against the column table derived from the spec
 * (focus-columns.json). Rules checked:
 *   dataset: every Mandatory column present; no column twice; every column is a spec column or
 *     a custom one with the x_ prefix.
 *   each cell of a spec column: nulls only where the column allows them (empty unquoted CSV = null);
 *     Decimal: Numeric Format (integer, decimal or E notation, no "+", no separators);
 *     Date/Time: 'YYYY-MM-DDTHH:mm:ssZ' (UTC) and a real instant; JSON: Key-Value Format (a JSON
 *     object whose values are string, number, true, false or null); Currency Format: three
 *     capital letters; allowed values where the spec lists them; ServiceSubcategory one listed
 *     under the row's ServiceCategory.
 *   across columns: ChargePeriodStart < ChargePeriodEnd; BillingPeriodStart < BillingPeriodEnd;
 *     the charge period inside the billing period.
 * It also sums BilledCost, EffectiveCost and ListCost exactly (nano-dollars).
 */
export interface FocusValidation {
  focus_version: string;
  rows: number;
  columns: string[];
  errors: string[];
  error_count: number;
  billed_nano: bigint;
  effective_nano: bigint;
  list_nano: bigint;
}

const DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?([eE]-?\d+)?$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const CURRENCY = /^[A-Z]{3}$/;
const MAX_ERRORS = 100;

/** Splits one CSV record (RFC 4180 quoting; no newlines inside fields). null = empty unquoted field. */
export function parseCsvLine(line: string): (string | null)[] {
  const out: (string | null)[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new Error('unterminated quoted field');
        value += line.slice(i, q);
        if (line[q + 1] === '"') { value += '"'; i = q + 2; continue; }
        i = q + 1;
        break;
      }
      out.push(value);
      i++; // the comma
    } else {
      const c = line.indexOf(',', i);
      const end = c < 0 ? line.length : c;
      out.push(end === i ? null : line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

export class FocusValidator {
  private readonly specs: (FocusColumnSpec | undefined)[];
  private readonly index: Map<string, number>;
  private readonly result: FocusValidation;

  constructor(readonly header: string[]) {
    const byId = new Map(FOCUS_SPEC_COLUMNS.map((c) => [c.id, c]));
    this.specs = header.map((h) => byId.get(h));
    this.index = new Map(header.map((h, i) => [h, i]));
    this.result = { focus_version: FOCUS_VERSION, rows: 0, columns: header, errors: [], error_count: 0, billed_nano: 0n, effective_nano: 0n, list_nano: 0n };
    for (const c of FOCUS_SPEC_COLUMNS) if (c.feature_level === 'Mandatory' && !this.index.has(c.id)) this.error(`mandatory column ${c.id} is missing`);
    header.forEach((h, i) => {
      if (header.indexOf(h) !== i) this.error(`column ${h} appears twice`);
      if (!this.specs[i] && !h.startsWith('x_')) this.error(`column ${h} is neither a FOCUS ${FOCUS_VERSION} column nor a custom column with the x_ prefix`);
    });
  }

  private error(message: string): void {
    this.result.error_count++;
    if (this.result.errors.length < MAX_ERRORS) this.result.errors.push(message);
  }

  private cell(fields: (string | null)[], id: string): string | null {
    const i = this.index.get(id);
    return i === undefined ? null : fields[i] ?? null;
  }

  row(fields: (string | null)[]): void {
    const n = ++this.result.rows;
    if (fields.length !== this.header.length) {
      this.error(`row ${n}: ${fields.length} fields, the header has ${this.header.length}`);
      return;
    }
    for (let i = 0; i < fields.length; i++) {
      const spec = this.specs[i];
      if (!spec) continue;
      const v = fields[i];
      if (v === null || v === '') {
        if (!spec.allows_nulls) this.error(`row ${n}: ${spec.id} is null; the spec does not allow nulls`);
        continue;
      }
      switch (spec.data_type) {
        case 'Decimal':
          if (!DECIMAL.test(v)) this.error(`row ${n}: ${spec.id}=${JSON.stringify(v)} is not in Numeric Format`);
          break;
        case 'Date/Time':
          if (!DATETIME.test(v) || Number.isNaN(Date.parse(v))) this.error(`row ${n}: ${spec.id}=${JSON.stringify(v)} is not a UTC date/time YYYY-MM-DDTHH:mm:ssZ`);
          break;
        case 'JSON': {
          let parsed: unknown;
          try { parsed = JSON.parse(v); } catch { parsed = undefined; }
          if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || Object.values(parsed).some((x) => x !== null && typeof x === 'object')) {
            this.error(`row ${n}: ${spec.id} is not a Key-Value Format JSON object`);
          }
          break;
        }
        default:
          break;
      }
      if (spec.value_format === 'Currency Format' && !CURRENCY.test(v)) this.error(`row ${n}: ${spec.id}=${JSON.stringify(v)} is not a three-letter currency code`);
      if (spec.allowed_values && !spec.allowed_values.includes(v)) this.error(`row ${n}: ${spec.id}=${JSON.stringify(v)} is not an allowed value`);
      if (spec.allowed_values_by_ServiceCategory) {
        const category = this.cell(fields, 'ServiceCategory');
        if (category !== null && !(spec.allowed_values_by_ServiceCategory[category] ?? []).includes(v)) this.error(`row ${n}: ServiceSubcategory ${JSON.stringify(v)} is not listed under ServiceCategory ${JSON.stringify(category)}`);
      }
    }
    const t = (id: string) => { const v = this.cell(fields, id); return v === null ? NaN : Date.parse(v); };
    const [cs, ce, bs, be] = [t('ChargePeriodStart'), t('ChargePeriodEnd'), t('BillingPeriodStart'), t('BillingPeriodEnd')];
    if (!(cs < ce)) this.error(`row ${n}: ChargePeriodStart is not before ChargePeriodEnd`);
    if (!(bs < be)) this.error(`row ${n}: BillingPeriodStart is not before BillingPeriodEnd`);
    if (!(bs <= cs && ce <= be)) this.error(`row ${n}: the charge period is not inside the billing period`);
    const money = (id: string) => { const v = this.cell(fields, id); try { return v === null ? 0n : usdToNano(v); } catch { return 0n; } };
    this.result.billed_nano += money('BilledCost');
    this.result.effective_nano += money('EffectiveCost');
    this.result.list_nano += money('ListCost');
  }

  finish(): FocusValidation {
    return this.result;
  }
}

/** Validates CSV text chunks as they stream (lines may span chunks). */
export class FocusCsvValidator {
  private validator: FocusValidator | undefined;
  private rest = '';

  push(chunk: string): void {
    const text = this.rest + chunk;
    const lines = text.split('\n');
    this.rest = lines.pop()!;
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    if (!line) return;
    if (!this.validator) this.validator = new FocusValidator(parseCsvLine(line).map((h) => h ?? ''));
    else this.validator.row(parseCsvLine(line));
  }

  finish(): FocusValidation {
    if (this.rest) this.line(this.rest);
    this.rest = '';
    return (this.validator ?? new FocusValidator([])).finish();
  }
}
