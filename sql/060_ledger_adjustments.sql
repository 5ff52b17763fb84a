-- Re-pricing by replay (docs/ledger.md). cost_events rows are never changed: a re-pricing run
-- recomputes an event's cost from its recorded usage under a target price version and, where
-- the amount differs, appends one adjustment carrying the old and new price version and amount,
-- who ran it and why. (event_id, target_version) is unique, so the same run twice adjusts once.
-- An event's adjusted amount is the new amount of its latest adjustment, or its own amount.

CREATE TABLE reprice_runs (
    run_id          uuid        PRIMARY KEY,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    actor           text        NOT NULL,
    reason          text        NOT NULL,
    target_version  text        NOT NULL,
    range_start     timestamptz NOT NULL,
    range_end       timestamptz NOT NULL,
    persona_ids     text[],
    models          text[],
    events_examined bigint,
    events_adjusted bigint,
    delta_usd       numeric(24, 9),
    report          jsonb
);

CREATE TABLE cost_adjustments (
    adjustment_id     bigint         GENERATED ALWAYS AS IDENTITY,
    event_id          text           NOT NULL,
    event_time        timestamptz    NOT NULL,
    persona_id        text           NOT NULL,
    post_id           text,
    cost_type         text           NOT NULL,
    model             text,
    target_version    text           NOT NULL,
    old_price_version text           NOT NULL,
    new_price_version text           NOT NULL,
    old_amount_usd    numeric(20, 9) NOT NULL,
    new_amount_usd    numeric(20, 9) NOT NULL CHECK (new_amount_usd >= 0),
    new_unit_prices   jsonb          NOT NULL DEFAULT '{}',
    -- The run (reprice_runs.run_id); not a foreign key: its check would run once per adjustment row.
    run_id            uuid           NOT NULL,
    actor             text           NOT NULL,
    reason            text           NOT NULL,
    created_at        timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, target_version)
);
-- Adjustments are written in event-time order of the scan, so a BRIN index serves time ranges
-- (the FOCUS export) at almost no write cost.
CREATE INDEX cost_adjustments_event_time ON cost_adjustments USING brin (event_time);

-- Append-only for everyone (TRUNCATE needs the owner).
CREATE FUNCTION cost_adjustments_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'cost_adjustments is append-only (% refused)', TG_OP USING ERRCODE = '42501';
END $$;
CREATE TRIGGER cost_adjustments_append_only BEFORE UPDATE OR DELETE ON cost_adjustments
    FOR EACH ROW EXECUTE FUNCTION cost_adjustments_append_only();

-- The rollups keep list amounts (total_usd, what the events were priced at) and the sum of
-- adjustment deltas beside them; adjusted = total_usd + adjustment_usd.
ALTER TABLE post_costs ADD COLUMN adjustment_usd numeric(24, 9) NOT NULL DEFAULT 0;
ALTER TABLE persona_daily_costs ADD COLUMN adjustment_usd numeric(24, 9) NOT NULL DEFAULT 0;

-- Re-pricing is an operator action, audited like the others.
ALTER TABLE api_audit_log DROP CONSTRAINT api_audit_log_action_check;
ALTER TABLE api_audit_log ADD CONSTRAINT api_audit_log_action_check
    CHECK (action IN ('budget.create', 'budget.replace', 'budget.delete', 'control.resume', 'control.override', 'ledger.reprice'));

-- The API runs re-pricing (operator scope) and the FOCUS export.
GRANT SELECT, INSERT, UPDATE ON reprice_runs TO finops_api;
GRANT SELECT, INSERT ON cost_adjustments TO finops_api;
GRANT UPDATE (adjustment_usd, updated_at) ON post_costs TO finops_api;
GRANT UPDATE (adjustment_usd) ON persona_daily_costs TO finops_api;
