-- An escalation held back and sent as part of a later state's follow-up (ALERT_ESCALATION_COALESCE_MS)
-- is recorded 'coalesced': final, so a replay that groups the states differently never sends it alone.
ALTER TABLE alert_deliveries DROP CONSTRAINT alert_deliveries_outcome_check;
ALTER TABLE alert_deliveries ADD CONSTRAINT alert_deliveries_outcome_check
    CHECK (outcome IN ('delivered', 'dead_lettered', 'folded', 'skipped', 'coalesced'));
