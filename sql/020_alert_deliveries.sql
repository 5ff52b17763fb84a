-- One row per (alert, state, channel): the delivery audit of the alert consumer. The primary key
-- is also the exactly-once ledger behind the Redis keys: a redelivered anomaly finds its row.
CREATE TABLE alert_deliveries (
    alert_id          text        NOT NULL,  -- anomaly id, group:<window>, or control:<transition id>
    sequence          integer     NOT NULL,  -- anomaly state (sequence); 0 for group summaries and pages
    channel           text        NOT NULL,  -- slack, pagerduty, email
    kind              text        NOT NULL CHECK (kind IN ('anomaly', 'resolution', 'group', 'page')),
    persona_id        text        NOT NULL,
    anomaly_type      text,
    severity          text,
    attempts          integer     NOT NULL DEFAULT 0,
    outcome           text        NOT NULL CHECK (outcome IN ('delivered', 'dead_lettered', 'folded', 'skipped')),
    status_code       integer,
    error             text,
    -- From the anomaly's Kafka timestamp to the channel accepting the notification.
    latency_ms        integer,
    first_attempt_at  timestamptz,
    finished_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_id, sequence, channel)
);
CREATE INDEX alert_deliveries_persona ON alert_deliveries (persona_id, finished_at DESC);
CREATE INDEX alert_deliveries_failed ON alert_deliveries (finished_at DESC) WHERE outcome = 'dead_lettered';

-- Every circuit-breaker transition, as published on finops.cost-controls.v1.
CREATE TABLE control_transitions (
    transition_id        text        PRIMARY KEY,
    persona_id           text        NOT NULL,
    from_level           text        NOT NULL CHECK (from_level IN ('normal', 'throttle', 'switch_model', 'pause', 'page')),
    to_level             text        NOT NULL CHECK (to_level IN ('normal', 'throttle', 'switch_model', 'pause', 'page')),
    cause                text        NOT NULL,
    reason               text        NOT NULL,
    actor                text        NOT NULL,
    anomaly_id           text,
    anomaly_sequence     integer,
    requests_per_minute  integer,
    model_map            jsonb       NOT NULL DEFAULT '{}',
    paused_until         timestamptz,
    probing              boolean     NOT NULL,
    manual               boolean     NOT NULL,
    at                   timestamptz NOT NULL,
    recorded_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX control_transitions_persona ON control_transitions (persona_id, at DESC);
