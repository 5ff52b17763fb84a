import { intSetting, Overrides } from '../config';
import { ValidationLimits } from './cost-event';

export * from './cost-event';
export * from './complete-cost-event';
export * from './cost-event-json';
export * from './amount-scale';
export * from './event-id';

export function validationLimits(overrides: Overrides = {}, now = Date.now()): ValidationLimits {
  return {
    now,
    maxFutureSkewMs: intSetting('STORAGE_MAX_FUTURE_SKEW_MS', overrides),
    maxPastAgeMs: intSetting('STORAGE_MAX_PAST_AGE_DAYS', overrides) * 86_400_000,
    maxMetadataBytes: intSetting('STORAGE_MAX_METADATA_BYTES', overrides),
  };
}

/** Validation limits whose `now` is refreshed at most once a second: cheap enough per message. */
export class ValidationClock {
  private limits: ValidationLimits;
  private at = 0;

  constructor(overrides: Overrides = {}) {
    this.limits = validationLimits(overrides);
  }

  current(): ValidationLimits {
    const now = Date.now();
    if (now - this.at > 1000) {
      this.limits = { ...this.limits, now };
      this.at = now;
    }
    return this.limits;
  }
}
