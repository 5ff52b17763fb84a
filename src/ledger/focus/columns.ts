import spec from './focus-columns.json';

/** The FOCUS version the export follows and its column table (derived from the spec, see focus-columns.json's source). */
export const FOCUS_VERSION: string = spec.focus_version;

export interface FocusColumnSpec {
  id: string;
  column_type: string;
  feature_level: string;
  allows_nulls: boolean;
  data_type: string;
  value_format: string;
  allowed_values?: string[];
  allowed_values_by_ServiceCategory?: Record<string, string[]>;
}

export const FOCUS_SPEC_COLUMNS: FocusColumnSpec[] = spec.columns as FocusColumnSpec[];

/** Every column the export writes, in order: the spec's columns the ledger can fill, then custom x_ columns. */
export const FOCUS_EXPORT_COLUMNS = [
  'BilledCost', 'BillingAccountId', 'BillingAccountName', 'BillingCurrency', 'BillingPeriodEnd', 'BillingPeriodStart',
  'ChargeCategory', 'ChargeClass', 'ChargeDescription', 'ChargeFrequency', 'ChargePeriodEnd', 'ChargePeriodStart',
  'ConsumedQuantity', 'ConsumedUnit', 'ContractedCost', 'ContractedUnitPrice', 'EffectiveCost', 'InvoiceIssuerName',
  'ListCost', 'ListUnitPrice', 'PricingCategory', 'PricingQuantity', 'PricingUnit', 'ProviderName', 'PublisherName',
  'ServiceCategory', 'ServiceName', 'ServiceSubcategory', 'SkuId', 'SkuMeter', 'SkuPriceId', 'SubAccountId', 'SubAccountName', 'Tags',
  'x_CostType', 'x_TokenKind', 'x_EventCount', 'x_PriceVersion', 'x_PriceStatus', 'x_RepriceTargetVersion',
] as const;
