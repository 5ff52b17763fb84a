import { Overrides, setting } from '../config';
import { ConfigError } from '../errors';

export interface LedgerSettings {
  billingAccountId: string;
  billingAccountName: string;
  invoiceIssuerName: string;
  focusWorkMem: string;
}

export function ledgerSettings(overrides: Overrides = {}): LedgerSettings {
  const focusWorkMem = setting('FOCUS_EXPORT_WORK_MEM', overrides);
  if (!/^\d+(kB|MB|GB)$/.test(focusWorkMem)) throw new ConfigError(`FOCUS_EXPORT_WORK_MEM=${JSON.stringify(focusWorkMem)} is not a Postgres memory size; write e.g. 128MB`);
  return {
    billingAccountId: setting('FOCUS_BILLING_ACCOUNT_ID', overrides),
    billingAccountName: setting('FOCUS_BILLING_ACCOUNT_NAME', overrides),
    invoiceIssuerName: setting('FOCUS_INVOICE_ISSUER_NAME', overrides),
    focusWorkMem,
  };
}
