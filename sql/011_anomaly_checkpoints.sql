-- Checkpoints of the anomaly consumer's state: one row per consumer group, input topic and
-- partition number, holding the serialized windows, baselines, budgets spend, post totals and
-- open anomalies together with the input offsets they reflect (both input topics are
-- co-partitioned by persona, so one partition number covers a persona's costs and outcomes).
CREATE TABLE anomaly_checkpoints (
    group_id        text        NOT NULL,
    cost_topic      text        NOT NULL,
    outcome_topic   text        NOT NULL,
    partition       integer     NOT NULL,
    -- Next offset to process on each topic; -1 when nothing was processed there yet.
    cost_offset     bigint      NOT NULL,
    outcome_offset  bigint      NOT NULL,
    state           text        NOT NULL,
    taken_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, cost_topic, partition)
);
CREATE INDEX cost_anomalies_last_updated ON cost_anomalies (last_updated_at);
