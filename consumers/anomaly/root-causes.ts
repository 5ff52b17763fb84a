import { RootCause } from '../../src/contracts/anomaly';
import { CostEvent } from '../../src/events';
import { formatUsd } from '../../src/money';

/**
 * Spend of one (model, operation, service) within a window or a budget period, with the post
 * that spent most in it (among those seen while it led). Kept as a short array (at most
 * MAX_CONTRIBUTORS, the rest under one row of nulls) so that it checkpoints as plain JSON.
 */
export interface Contribution {
  model: string | null;
  operation: string | null;
  service: string | null;
  spend: bigint;
  post: string | null;
  postSpend: bigint;
  /** The post of the latest event and its spend run (to find the top post without a map of posts). */
  lastPost: string | null;
  lastPostSpend: bigint;
}

export const MAX_CONTRIBUTORS = 8;
/** Root causes reported per anomaly. */
export const TOP_CAUSES = 3;

export function addContribution(rows: Contribution[], e: CostEvent): void {
  if (e.amount <= 0n) return;
  const model = e.llm_usage?.model ?? null;
  const operation = e.operation;
  const service = e.service;
  let row: Contribution | undefined;
  for (const r of rows) {
    if (r.model === model && r.operation === operation && r.service === service) {
      row = r;
      break;
    }
  }
  if (!row) {
    if (rows.length >= MAX_CONTRIBUTORS - 1) {
      row = rows.find((r) => r.model === null && r.operation === null && r.service === null && r.post === '\u0000other');
      if (!row) {
        row = { model: null, operation: null, service: null, spend: 0n, post: '\u0000other', postSpend: 0n, lastPost: null, lastPostSpend: 0n };
        rows.push(row);
      }
    } else {
      row = { model, operation, service, spend: 0n, post: null, postSpend: 0n, lastPost: null, lastPostSpend: 0n };
      rows.push(row);
    }
  }
  row.spend += e.amount;
  if (e.post_id && row.post !== '\u0000other') {
    if (row.lastPost === e.post_id) row.lastPostSpend += e.amount;
    else {
      row.lastPost = e.post_id;
      row.lastPostSpend = e.amount;
    }
    if (row.post === e.post_id) row.postSpend += e.amount;
    else if (row.lastPostSpend > row.postSpend) {
      row.post = e.post_id;
      row.postSpend = row.lastPostSpend;
    }
  }
}

const total = (rows: Contribution[]) => rows.reduce((s, r) => s + r.spend, 0n);

/**
 * The top contributors to the excess of `rows` (spend now) over `baseline` nano-USD, where each
 * contributor's expected part of the baseline is its share of `baselineRows` (the mix before);
 * a contributor absent before expected nothing. With no baseline, the excess is the spend itself.
 */
export function rootCauses(rows: Contribution[], baseline: bigint | null, baselineRows: Contribution[] = []): RootCause[] {
  const before = total(baselineRows);
  const excess = rows.map((r) => {
    let expected = 0n;
    if (baseline !== null && baseline > 0n) {
      if (before > 0n) {
        const prior = baselineRows.find((b) => b.model === r.model && b.operation === r.operation && b.service === r.service);
        expected = prior ? (baseline * prior.spend) / before : 0n;
      } else {
        expected = (baseline * r.spend) / (total(rows) || 1n); // no mix known: the baseline spread in proportion
      }
    }
    return { r, excess: r.spend - expected };
  });
  const positive = excess.filter((x) => x.excess > 0n).sort((a, b) => (a.excess > b.excess ? -1 : a.excess < b.excess ? 1 : 0));
  const sum = positive.reduce((s, x) => s + x.excess, 0n);
  if (sum <= 0n) return [];
  return positive.slice(0, TOP_CAUSES).map(({ r, excess: x }) => ({
    model: r.model, operation: r.operation, service: r.service, post_id: r.post === '\u0000other' ? null : r.post,
    excess_usd: formatUsd(x), share_percent: Number((x * 1000n) / sum) / 10,
  }));
}
