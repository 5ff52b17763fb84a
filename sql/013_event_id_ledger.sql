-- One row per event id, whatever its event time (docs/storage.md).
--
-- cost_event_ids is a narrow, unpartitioned table keyed by the event id alone: the storage
-- consumer inserts a batch's ids there first, and only the ids that are new go on into
-- cost_events. Ids are 16-byte uuids: a canonical lower-case UUID is its own key; any other id
-- (producers in other languages may send their own) is keyed by the md5 of its text, which the
-- consumer computes the same way (consumers/storage/event-key.ts). The fingerprint hashes what
-- must not differ between two arrivals of one id (cost type, amount, persona, post), so a second
-- arrival is told apart as a duplicate (dropped) or a conflict (dead-lettered).

CREATE FUNCTION finops_event_key(event_id text) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN event_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              THEN event_id::uuid
              ELSE md5('finops.event_id:' || event_id)::uuid END
$$;

CREATE FUNCTION finops_event_fingerprint(cost_type text, amount_usd numeric, persona_id text, post_id text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ('x' || left(md5(concat_ws(E'\x1f', cost_type, trunc(amount_usd * 1000000000)::text, persona_id, coalesce(post_id, ''))), 16))::bit(64)::bigint
$$;

CREATE TABLE cost_event_ids (
    event_key   uuid        PRIMARY KEY,
    event_time  timestamptz NOT NULL,
    fingerprint bigint      NOT NULL
);

-- Rows stored more than once under one id before this migration (a retry with a later event
-- time was a second row): the first stored stays, the others are kept here for audit and taken
-- out of the rollups.
CREATE TABLE cost_events_removed_duplicates (LIKE cost_events);

CREATE TEMP TABLE ranked_events ON COMMIT DROP AS
SELECT tableoid AS part, ctid AS row_ctid, finops_event_key(event_id) AS event_key, event_time,
       finops_event_fingerprint(cost_type, amount_usd, persona_id, post_id) AS fingerprint,
       row_number() OVER (PARTITION BY finops_event_key(event_id)
                          ORDER BY ingested_at, event_time, kafka_partition, kafka_offset) AS arrival
FROM cost_events;

INSERT INTO cost_event_ids (event_key, event_time, fingerprint)
SELECT event_key, event_time, fingerprint FROM ranked_events WHERE arrival = 1;

WITH removed AS (
  DELETE FROM cost_events e USING ranked_events r
  WHERE r.arrival > 1 AND e.tableoid = r.part AND e.ctid = r.row_ctid
  RETURNING e.*
)
INSERT INTO cost_events_removed_duplicates SELECT * FROM removed;

-- The rollups counted every row; take the removed ones out.
UPDATE persona_daily_costs d
SET total_usd = d.total_usd - r.total_usd, event_count = d.event_count - r.events
FROM (SELECT persona_id, (event_time AT TIME ZONE 'UTC')::date AS day, cost_type, coalesce(model, '') AS model,
             sum(amount_usd) AS total_usd, count(*) AS events
      FROM cost_events_removed_duplicates GROUP BY 1, 2, 3, 4) r
WHERE d.persona_id = r.persona_id AND d.day = r.day AND d.cost_type = r.cost_type AND d.model = r.model;
DELETE FROM persona_daily_costs WHERE event_count <= 0;

UPDATE post_costs p
SET total_usd = s.total_usd, openai_api_usd = s.openai_api_usd, kubernetes_usd = s.kubernetes_usd,
    vector_db_usd = s.vector_db_usd, other_usd = s.other_usd, event_count = s.event_count,
    unpriced_event_count = s.unpriced_event_count, first_event_at = s.first_event_at, last_event_at = s.last_event_at,
    updated_at = now()
FROM (SELECT post_id, sum(amount_usd) AS total_usd,
             coalesce(sum(amount_usd) FILTER (WHERE cost_type = 'openai_api'), 0) AS openai_api_usd,
             coalesce(sum(amount_usd) FILTER (WHERE cost_type = 'kubernetes'), 0) AS kubernetes_usd,
             coalesce(sum(amount_usd) FILTER (WHERE cost_type = 'vector_db'), 0) AS vector_db_usd,
             coalesce(sum(amount_usd) FILTER (WHERE cost_type NOT IN ('openai_api', 'kubernetes', 'vector_db')), 0) AS other_usd,
             count(*) AS event_count, count(*) FILTER (WHERE price_status <> 'priced') AS unpriced_event_count,
             min(event_time) AS first_event_at, max(event_time) AS last_event_at
      FROM cost_events
      WHERE post_id IN (SELECT DISTINCT post_id FROM cost_events_removed_duplicates WHERE post_id IS NOT NULL)
      GROUP BY post_id) s
WHERE p.post_id = s.post_id;

-- The id table decides uniqueness now; (event_id, event_time) was one more index on every row
-- written and no longer unique enough to mean anything.
ALTER TABLE cost_events DROP CONSTRAINT cost_events_pkey;

-- Retention drops a month's ids with its partition (a replay of events that old is refused as
-- too old before it reaches the table).
CREATE OR REPLACE FUNCTION finops_drop_partitions_older_than(keep_months int) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamptz := (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => keep_months)) AT TIME ZONE 'UTC';
    part record;
    dropped_any boolean := false;
BEGIN
    FOR part IN
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'cost_events'::regclass AND c.relname ~ '^cost_events_\d{4}_\d{2}$'
    LOOP
        IF (to_date(substr(part.relname, 13), 'YYYY_MM') + interval '1 month') <= cutoff THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            dropped_any := true;
            RETURN NEXT part.relname;
        END IF;
    END LOOP;
    IF dropped_any THEN
        DELETE FROM cost_event_ids k
        WHERE k.event_time < cutoff
          AND NOT EXISTS (SELECT 1 FROM cost_events_default d WHERE d.event_time = k.event_time AND finops_event_key(d.event_id) = k.event_key);
    END IF;
END $$;
