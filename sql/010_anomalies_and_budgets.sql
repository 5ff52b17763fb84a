-- Anomalies as the anomaly consumer last reported them: one row per anomaly id, updated on
-- escalation and resolution (the Kafka topic keeps every state).
CREATE TABLE cost_anomalies (
    anomaly_id            text PRIMARY KEY,
    sequence              integer          NOT NULL,
    status                text             NOT NULL CHECK (status IN ('open', 'escalated', 'resolved')),
    anomaly_type          text             NOT NULL,
    severity              text             NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    persona_id            text             NOT NULL,
    post_id               text,
    window_start          timestamptz      NOT NULL,
    window_end            timestamptz      NOT NULL,
    observed              numeric          NOT NULL,
    baseline              numeric,
    threshold             numeric          NOT NULL,
    unit                  text             NOT NULL,
    multiplier            double precision,
    triggering_event_ids  text[]           NOT NULL DEFAULT '{}',
    message               text             NOT NULL DEFAULT '',
    details               jsonb            NOT NULL DEFAULT '{}',
    first_detected_at     timestamptz      NOT NULL,
    last_updated_at       timestamptz      NOT NULL,
    resolved_at           timestamptz
);
CREATE INDEX cost_anomalies_persona_detected ON cost_anomalies (persona_id, first_detected_at DESC);
CREATE INDEX cost_anomalies_open ON cost_anomalies (severity, first_detected_at DESC) WHERE status <> 'resolved';

-- Spend limits per persona and period, read by the budget detector and written through the API.
CREATE TABLE budgets (
    persona_id  text           NOT NULL,
    period      text           NOT NULL CHECK (period IN ('daily', 'monthly')),
    limit_usd   numeric(20, 9) NOT NULL CHECK (limit_usd > 0),
    updated_at  timestamptz    NOT NULL DEFAULT now(),
    updated_by  text,
    PRIMARY KEY (persona_id, period)
);

-- Per-persona target cost per post (the default, $0.02, is configuration).
CREATE TABLE persona_targets (
    persona_id                text PRIMARY KEY,
    target_cost_per_post_usd  numeric(20, 9) NOT NULL CHECK (target_cost_per_post_usd > 0),
    updated_at                timestamptz    NOT NULL DEFAULT now()
);
