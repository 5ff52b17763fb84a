-- Rollups kept current by the storage consumer in the same transaction as the events, from the
-- rows actually inserted (never from redelivered duplicates), so they always equal SUM(cost_events).

-- One row per post: what the post cost so far, by cost type.
CREATE TABLE post_costs (
    post_id              text PRIMARY KEY,
    persona_id           text           NOT NULL,
    total_usd            numeric(24, 9) NOT NULL DEFAULT 0,
    openai_api_usd       numeric(24, 9) NOT NULL DEFAULT 0,
    kubernetes_usd       numeric(24, 9) NOT NULL DEFAULT 0,
    vector_db_usd        numeric(24, 9) NOT NULL DEFAULT 0,
    other_usd            numeric(24, 9) NOT NULL DEFAULT 0,
    event_count          bigint         NOT NULL DEFAULT 0,
    unpriced_event_count bigint         NOT NULL DEFAULT 0,
    first_event_at       timestamptz    NOT NULL,
    last_event_at        timestamptz    NOT NULL,
    updated_at           timestamptz    NOT NULL DEFAULT now()
);
CREATE INDEX post_costs_persona_last ON post_costs (persona_id, last_event_at);

-- One row per persona, UTC day, cost type and model ('' when the cost has no model):
-- the source of date-range breakdowns, so a 30-day query reads at most a few hundred rows.
CREATE TABLE persona_daily_costs (
    persona_id   text           NOT NULL,
    day          date           NOT NULL,
    cost_type    text           NOT NULL,
    model        text           NOT NULL DEFAULT '',
    total_usd    numeric(24, 9) NOT NULL DEFAULT 0,
    event_count  bigint         NOT NULL DEFAULT 0,
    PRIMARY KEY (persona_id, day, cost_type, model)
);
CREATE INDEX persona_daily_costs_day ON persona_daily_costs (day);
