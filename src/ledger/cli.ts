import fs from 'node:fs';
import os from 'node:os';
import { pipeline } from 'node:stream/promises';
import { createPool } from '../db/pool';
import { FinOpsError } from '../errors';
import { loadPriceBook, loadPricingTableFile, priceBookFromConfig } from '../pricing';
import { pricingCoverage } from './coverage';
import { focusCsvStream } from './focus/export';
import { reprice } from './reprice';
import { ledgerSettings } from './settings';

/** The ledger's CLI commands (wired into the finops CLI): re-pricing, price coverage and the FOCUS export. */
export const LEDGER_USAGE = `  reprice --start T --end T --reason TEXT [--persona ID]... [--model M]... [--target-version V] [--table FILE] [--actor NAME]
                            re-price LLM events with event time in [start, end) from their recorded usage under the
                            loaded price version (PRICING_TABLE_FILE/URL, or --table); prints the diff report (JSON)
  prices check [--table FILE]
                            the loaded price version, and the LLM models the ledger has seen that it does not price
  export-focus --start T --end T [--persona ID] [--by-post] [--out FILE]
                            the FOCUS CSV export (whole UTC hours) to FILE or stdout
`;

type Flags = Record<string, string[]>;

function parseFlags(args: string[], known: string[], booleans: string[] = []): Flags {
  const flags: Flags = {};
  for (let i = 0; i < args.length; i++) {
    const name = args[i].replace(/^--/, '');
    if (!args[i].startsWith('--') || ![...known, ...booleans].includes(name)) throw new FinOpsError(`unknown argument ${args[i]}; see \`finops\` for usage`);
    if (booleans.includes(name)) {
      (flags[name] ??= []).push('true');
      continue;
    }
    const value = args[++i];
    if (value === undefined) throw new FinOpsError(`--${name} needs a value`);
    (flags[name] ??= []).push(value);
  }
  return flags;
}

function time(flags: Flags, name: string): Date {
  const v = flags[name]?.[0];
  if (!v) throw new FinOpsError(`--${name} is required (an ISO timestamp such as 2026-11-01T00:00:00Z)`);
  const t = new Date(v);
  if (Number.isNaN(t.getTime())) throw new FinOpsError(`--${name} ${JSON.stringify(v)} is not an ISO timestamp`);
  return t;
}

const bookFor = async (flags: Flags) => (flags.table ? priceBookFromConfig({}, loadPricingTableFile(flags.table[0])) : loadPriceBook());

async function withPool<T>(fn: (pool: ReturnType<typeof createPool>) => Promise<T>): Promise<T> {
  const pool = createPool({}, 'finops-ledger-cli');
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

async function repriceCommand(args: string[]): Promise<void> {
  const flags = parseFlags(args, ['start', 'end', 'reason', 'persona', 'model', 'target-version', 'table', 'actor']);
  const book = await bookFor(flags);
  const actor = flags.actor?.[0] ?? `cli:${os.userInfo().username}`;
  const report = await withPool((pool) => reprice(pool, book, {
    start: time(flags, 'start'), end: time(flags, 'end'), reason: flags.reason?.[0] ?? '', actor,
    personaIds: flags.persona, models: flags.model, targetVersion: flags['target-version']?.[0],
  }, async (db, r) => {
    await db.query(
      `INSERT INTO api_audit_log (actor, token_id, action, persona_id, target, before, after, request_id) VALUES ($1, 'cli', 'ledger.reprice', $2, $3, NULL, $4::jsonb, $5)`,
      [actor, r.persona_ids?.join(',') ?? '*', `reprice:${r.run_id}`, JSON.stringify({ run_id: r.run_id, target_version: r.target_version, start: r.start, end: r.end, models: r.models, events_adjusted: r.events_adjusted, total: r.total, reason: r.reason }), r.run_id],
    );
  }));
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

async function pricesCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'check') throw new FinOpsError('usage: finops prices check [--table FILE]');
  const book = await bookFor(parseFlags(rest, ['table']));
  const report = await withPool((pool) => pricingCoverage(pool, book));
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (report.unpriced.length) process.exitCode = 3;
}

async function exportFocusCommand(args: string[]): Promise<void> {
  const flags = parseFlags(args, ['start', 'end', 'persona', 'out'], ['by-post']);
  const s = ledgerSettings();
  await withPool(async (pool) => {
    const stream = await focusCsvStream(pool, {
      start: time(flags, 'start'), end: time(flags, 'end'), personaId: flags.persona?.[0], byPost: Boolean(flags['by-post']),
      billingAccountId: s.billingAccountId, billingAccountName: s.billingAccountName, invoiceIssuerName: s.invoiceIssuerName, workMem: s.focusWorkMem,
    });
    await pipeline(stream, flags.out ? fs.createWriteStream(flags.out[0]) : process.stdout);
  });
}

export const ledgerCommands: Record<string, (args: string[]) => Promise<void>> = {
  reprice: repriceCommand,
  prices: pricesCommand,
  'export-focus': exportFocusCommand,
};
