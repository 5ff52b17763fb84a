-- Re-pricing writes narrower adjustment rows, in key order, under one index (docs/ledger.md,
-- "Speed"). Measured at 6,000,000 adjustments: the rows of 060 under their three indexes took
-- 107 s to insert, where the time-ordered key below, inserted in its own order, took 48 s; the
-- post_id index alone cost about 35 s (inserted at random posts).
--
-- - cost_adjustment_entries holds what differs per event. Who ran it, why and when are the run's
--   (reprice_runs), the new unit prices are one row per run and price version
--   (reprice_unit_prices); the cost_adjustments view puts them back on every row, as 060 had them.
-- - The key is (event_time, event_id, target_version): an event's time never changes, so it is
--   as unique as (event_id, target_version), and a run inserts in that order, so the index grows
--   at its right edge (or one range at a time) instead of at a random leaf per row. The key also
--   serves time ranges (the BRIN index of 060 is not needed) and an event's adjustments (look up
--   by its time and id).
-- - A post's adjustment, for the post_costs view, is the sum of its per-run deltas in
--   reprice_post_deltas (one row per run and post, written by the same statement), not read
--   through an index over every adjustment row.

CREATE TABLE cost_adjustment_entries (
    adjustment_id     bigint         GENERATED ALWAYS AS IDENTITY,
    -- The run (reprice_runs.run_id); not a foreign key: its check would run once per row.
    run_id            uuid           NOT NULL,
    event_time        timestamptz    NOT NULL,
    event_id          text           NOT NULL,
    target_version    text           NOT NULL,
    persona_id        text           NOT NULL,
    post_id           text,
    cost_type         text           NOT NULL,
    model             text,
    old_price_version text           NOT NULL,
    new_price_version text           NOT NULL,
    old_amount_usd    numeric(20, 9) NOT NULL,
    new_amount_usd    numeric(20, 9) NOT NULL CHECK (new_amount_usd >= 0),
    PRIMARY KEY (event_time, event_id, target_version)
);

CREATE TABLE reprice_unit_prices (
    run_id        uuid  NOT NULL,
    price_version text  NOT NULL,
    unit_prices   jsonb NOT NULL,
    PRIMARY KEY (run_id, price_version)
);

CREATE TABLE reprice_post_deltas (
    post_id   text           NOT NULL,
    run_id    uuid           NOT NULL,
    events    bigint         NOT NULL,
    delta_usd numeric(24, 9) NOT NULL,
    PRIMARY KEY (post_id, run_id)
);

INSERT INTO cost_adjustment_entries (adjustment_id, run_id, event_time, event_id, target_version, persona_id, post_id, cost_type, model,
                                     old_price_version, new_price_version, old_amount_usd, new_amount_usd)
OVERRIDING SYSTEM VALUE
SELECT adjustment_id, run_id, event_time, event_id, target_version, persona_id, post_id, cost_type, model,
       old_price_version, new_price_version, old_amount_usd, new_amount_usd
FROM cost_adjustments ORDER BY event_time, event_id, target_version;
SELECT setval(pg_get_serial_sequence('cost_adjustment_entries', 'adjustment_id'),
              coalesce((SELECT max(adjustment_id) FROM cost_adjustment_entries), 0) + 1, false);

INSERT INTO reprice_unit_prices (run_id, price_version, unit_prices)
SELECT DISTINCT ON (run_id, new_price_version) run_id, new_price_version, new_unit_prices
FROM cost_adjustments ORDER BY run_id, new_price_version, adjustment_id;

INSERT INTO reprice_post_deltas (post_id, run_id, events, delta_usd)
SELECT post_id, run_id, count(*), sum(new_amount_usd - old_amount_usd)
FROM cost_adjustments WHERE post_id IS NOT NULL GROUP BY 1, 2;

CREATE OR REPLACE VIEW post_costs AS
SELECT post_id,
       min(persona_id) AS persona_id,
       sum(amount_usd)::numeric(24, 9) AS total_usd,
       coalesce(sum(amount_usd) FILTER (WHERE cost_type = 'openai_api'), 0)::numeric(24, 9) AS openai_api_usd,
       coalesce(sum(amount_usd) FILTER (WHERE cost_type = 'kubernetes'), 0)::numeric(24, 9) AS kubernetes_usd,
       coalesce(sum(amount_usd) FILTER (WHERE cost_type = 'vector_db'), 0)::numeric(24, 9) AS vector_db_usd,
       coalesce(sum(amount_usd) FILTER (WHERE cost_type NOT IN ('openai_api', 'kubernetes', 'vector_db')), 0)::numeric(24, 9) AS other_usd,
       count(*) AS event_count,
       count(*) FILTER (WHERE price_status <> 'priced') AS unpriced_event_count,
       min(event_time) AS first_event_at,
       max(event_time) AS last_event_at,
       max(ingested_at) AS updated_at,
       coalesce((SELECT sum(d.delta_usd) FROM reprice_post_deltas d WHERE d.post_id = cost_events.post_id), 0)::numeric(24, 9) AS adjustment_usd
FROM cost_events
WHERE post_id IS NOT NULL
GROUP BY post_id;

DROP TABLE cost_adjustments;

-- Every adjustment as 060 wrote it: the run's actor, reason and time, and the new unit prices, on
-- each row. The joins are on unique keys and left: a query that does not read their columns does
-- not join at all.
CREATE VIEW cost_adjustments AS
SELECT a.adjustment_id, a.event_id, a.event_time, a.persona_id, a.post_id, a.cost_type, a.model, a.target_version,
       a.old_price_version, a.new_price_version, a.old_amount_usd, a.new_amount_usd,
       coalesce(p.unit_prices, '{}'::jsonb) AS new_unit_prices, a.run_id, r.actor, r.reason, r.started_at AS created_at
FROM cost_adjustment_entries a
LEFT JOIN reprice_runs r ON r.run_id = a.run_id
LEFT JOIN reprice_unit_prices p ON p.run_id = a.run_id AND p.price_version = a.new_price_version;

-- Append-only for everyone, as cost_adjustments was (TRUNCATE needs the owner).
CREATE TRIGGER cost_adjustment_entries_append_only BEFORE UPDATE OR DELETE ON cost_adjustment_entries
    FOR EACH ROW EXECUTE FUNCTION cost_adjustments_append_only();
CREATE TRIGGER reprice_unit_prices_append_only BEFORE UPDATE OR DELETE ON reprice_unit_prices
    FOR EACH ROW EXECUTE FUNCTION cost_adjustments_append_only();
CREATE TRIGGER reprice_post_deltas_append_only BEFORE UPDATE OR DELETE ON reprice_post_deltas
    FOR EACH ROW EXECUTE FUNCTION cost_adjustments_append_only();

GRANT SELECT ON cost_adjustments TO finops_api;
GRANT SELECT, INSERT ON cost_adjustment_entries, reprice_unit_prices, reprice_post_deltas TO finops_api;
