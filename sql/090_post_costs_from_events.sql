-- post_costs is no longer kept on the write path. Upserting it cost the storage consumer about as
-- much Postgres time per batch as the rows themselves (a probe, a row lock and an update for nearly
-- every post of a batch; docs/storage.md), while its readers are point reads of one post, which the
-- post's events answer from their (post_id, event_time) index. It becomes a view over cost_events
-- with the same columns, so every reader (the API, tests, operators) keeps its query.
DROP TABLE post_costs;

CREATE VIEW post_costs AS
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
       max(ingested_at) AS updated_at
FROM cost_events
WHERE post_id IS NOT NULL
GROUP BY post_id;

GRANT SELECT ON post_costs TO finops_storage, finops_api;
