-- Budgets on scopes (issue: budgets for teams, services and tags). A scope is a persona, a
-- service, a team (through persona_teams), a model, a metadata tag (scope_value 'key=value') or
-- everything ('global', scope_value ''). Each has a daily and/or a monthly limit and a list of
-- thresholds, each with its own severity and, optionally, the control the circuit breaker applies
-- to the scope: [{"percent": "90", "severity": "high", "control": "throttle"}, ...].
CREATE TABLE scoped_budgets (
    scope_kind   text           NOT NULL CHECK (scope_kind IN ('persona', 'service', 'team', 'model', 'tag', 'global')),
    scope_value  text           NOT NULL,
    period       text           NOT NULL CHECK (period IN ('daily', 'monthly')),
    limit_usd    numeric(20, 9) NOT NULL CHECK (limit_usd > 0),
    thresholds   jsonb          NOT NULL CHECK (jsonb_typeof(thresholds) = 'array' AND jsonb_array_length(thresholds) BETWEEN 1 AND 20),
    updated_at   timestamptz    NOT NULL DEFAULT now(),
    updated_by   text,
    PRIMARY KEY (scope_kind, scope_value, period),
    CHECK ((scope_kind = 'global') = (scope_value = '')),
    CHECK (scope_kind <> 'tag' OR position('=' IN scope_value) > 1)
);

-- Which team a persona belongs to (one team per persona), managed through the API.
CREATE TABLE persona_teams (
    persona_id  text        PRIMARY KEY,
    team        text        NOT NULL CHECK (team <> ''),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text
);
CREATE INDEX persona_teams_team ON persona_teams (team);

-- Seasonal spike baselines switched on or off for one persona or one team (else ANOMALY_SEASONAL).
CREATE TABLE anomaly_seasonal_settings (
    scope_kind   text        NOT NULL CHECK (scope_kind IN ('persona', 'team')),
    scope_value  text        NOT NULL,
    seasonal     boolean     NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope_kind, scope_value)
);

-- What the anomaly consumer knows of each scoped budget in its current period: spend so far (the
-- instance's partitions), the burn-rate forecast with its 90 % band and the projected exhaustion
-- time. Written every few seconds, read by GET /budgets.
CREATE TABLE scoped_budget_status (
    scope_kind         text           NOT NULL,
    scope_value        text           NOT NULL,
    period             text           NOT NULL,
    period_start       timestamptz    NOT NULL,
    spent_usd          numeric(24, 9) NOT NULL,
    forecast_usd       numeric(24, 9),
    forecast_low_usd   numeric(24, 9),
    forecast_high_usd  numeric(24, 9),
    exhaustion_at      timestamptz,
    updated_at         timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (scope_kind, scope_value, period)
);

ALTER TABLE api_audit_log DROP CONSTRAINT api_audit_log_action_check;
ALTER TABLE api_audit_log ADD CONSTRAINT api_audit_log_action_check CHECK (action IN (
    'budget.create', 'budget.replace', 'budget.delete', 'control.resume', 'control.override',
    'scoped_budget.create', 'scoped_budget.replace', 'scoped_budget.delete', 'team.assign', 'team.unassign'));

GRANT SELECT ON scoped_budgets, persona_teams, anomaly_seasonal_settings TO finops_anomaly;
GRANT SELECT, INSERT, UPDATE, DELETE ON scoped_budget_status TO finops_anomaly;
GRANT SELECT ON cost_events TO finops_anomaly;
GRANT SELECT, INSERT, UPDATE, DELETE ON scoped_budgets, persona_teams, anomaly_seasonal_settings TO finops_api;
GRANT SELECT ON scoped_budget_status TO finops_api;
