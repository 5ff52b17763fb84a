/**
 * Seasonal spike baseline: the usual spend of a window at this hour of the week.
 *
 * Each persona keeps, per hour-of-week bucket (168 of them) and per week slot (the last `weeks`
 * weeks), the mean spend of its windows with spend in that hour, and the week it is from. The
 * baseline of a window is the median of its bucket's values over the previous weeks, with the
 * MAD as the spread. While a bucket has no earlier week yet, the same hour of the earlier days
 * of the last week stands in (an hour-of-day profile); with neither, the caller uses the rolling
 * median of the last windows.
 *
 * Memory per persona: 168 × weeks × (4 bytes float32 + 2 bytes week stamp), 4 032 bytes for 4
 * weeks, plus a few numbers: fixed whatever the traffic.
 */
export interface SeasonalState {
  weeks: number;
  /** Mean window spend (nano-USD) per [bucket × weeks + week slot]. */
  values: Float32Array;
  /** (week number mod 65535) + 1 of each value; 0 where empty. */
  stamps: Uint16Array;
  /** Absolute hour (t / 3 600 000) being accumulated; -1 before any window. */
  hour: number;
  sum: bigint;
  count: number;
}

export interface SeasonalBaseline {
  median: bigint;
  /** 1.4826 × MAD: a robust standard deviation of the bucket's values, nano-USD. */
  spread: number;
  kind: 'hour_of_week' | 'hour_of_day';
  samples: number;
}

const HOUR = 3_600_000;
const HOURS_PER_WEEK = 168;

export function newSeasonal(weeks: number): SeasonalState {
  return { weeks, values: new Float32Array(HOURS_PER_WEEK * weeks), stamps: new Uint16Array(HOURS_PER_WEEK * weeks), hour: -1, sum: 0n, count: 0 };
}

/** Bytes held by one persona's seasonal state (the typed arrays and the fields). */
export function seasonalBytes(s: SeasonalState): number {
  return s.values.byteLength + s.stamps.byteLength + 64;
}

const stampOf = (week: number) => (week % 65535) + 1;

function flush(s: SeasonalState): void {
  if (s.hour < 0 || s.count === 0) return;
  const bucket = s.hour % HOURS_PER_WEEK;
  const week = Math.floor(s.hour / HOURS_PER_WEEK);
  const i = bucket * s.weeks + (week % s.weeks);
  s.values[i] = Number(s.sum / BigInt(s.count));
  s.stamps[i] = stampOf(week);
}

/** A window with spend closed: its spend joins its hour's mean (hours are flushed as they pass, in order). */
export function addWindow(s: SeasonalState, windowStart: number, spend: bigint): void {
  const hour = Math.floor(windowStart / HOUR);
  if (hour < s.hour) return; // a window of an hour already folded (rare: late close); the profile is an estimate
  if (hour > s.hour) {
    flush(s);
    s.hour = hour;
    s.sum = 0n;
    s.count = 0;
  }
  s.sum += spend;
  s.count++;
}

/** The value of absolute hour `hour`, if held. */
function valueAt(s: SeasonalState, hour: number): number | undefined {
  const week = Math.floor(hour / HOURS_PER_WEEK);
  const i = (hour % HOURS_PER_WEEK) * s.weeks + (week % s.weeks);
  return s.stamps[i] === stampOf(week) ? s.values[i] : undefined;
}

function medianOf(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const m = Math.floor(a.length / 2);
  return a.length % 2 === 1 ? a[m] : (a[m - 1] + a[m]) / 2;
}

/** The seasonal baseline of a window starting at `windowStart`, or null while there is no profile for its hour. */
export function seasonalBaseline(s: SeasonalState, windowStart: number, minWeeks = 1): SeasonalBaseline | null {
  const hour = Math.floor(windowStart / HOUR);
  const weekly: number[] = [];
  for (let w = 1; w <= s.weeks; w++) {
    const v = valueAt(s, hour - w * HOURS_PER_WEEK);
    if (v !== undefined) weekly.push(v);
  }
  let xs = weekly;
  let kind: SeasonalBaseline['kind'] = 'hour_of_week';
  if (weekly.length < minWeeks) {
    const daily: number[] = [];
    for (let d = 1; d < 7; d++) {
      const v = valueAt(s, hour - d * 24);
      if (v !== undefined) daily.push(v);
    }
    if (daily.length === 0) return null;
    xs = daily;
    kind = 'hour_of_day';
  }
  const median = medianOf(xs);
  const mad = medianOf(xs.map((x) => Math.abs(x - median)));
  return { median: BigInt(Math.round(median)), spread: 1.4826 * mad, kind, samples: xs.length };
}

/** Checkpoint form: the typed arrays as base64. */
export interface SeasonalJson {
  weeks: number;
  values: string;
  stamps: string;
  hour: number;
  sum: string;
  count: number;
}

export function seasonalToJson(s: SeasonalState): SeasonalJson {
  return {
    weeks: s.weeks, values: Buffer.from(s.values.buffer, s.values.byteOffset, s.values.byteLength).toString('base64'),
    stamps: Buffer.from(s.stamps.buffer, s.stamps.byteOffset, s.stamps.byteLength).toString('base64'), hour: s.hour, sum: s.sum.toString(), count: s.count,
  };
}

export function seasonalFromJson(j: SeasonalJson): SeasonalState {
  const s = newSeasonal(j.weeks);
  const v = Buffer.from(j.values, 'base64');
  const st = Buffer.from(j.stamps, 'base64');
  if (v.byteLength === s.values.byteLength) new Uint8Array(s.values.buffer).set(v);
  if (st.byteLength === s.stamps.byteLength) new Uint8Array(s.stamps.buffer).set(st);
  s.hour = j.hour;
  s.sum = BigInt(j.sum);
  s.count = j.count;
  return s;
}
