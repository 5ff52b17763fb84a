-- Cost events, range-partitioned by event time (one partition per calendar month, UTC).
-- The primary key includes the partition key, as Postgres requires; event ids are producer-made
-- UUIDs and a redelivered event carries the same (event_id, event_time), so inserts are idempotent.
CREATE TABLE cost_events (
    event_id            text           NOT NULL,
    event_time          timestamptz    NOT NULL,
    cost_type           text           NOT NULL,
    amount_usd          numeric(20, 9) NOT NULL CHECK (amount_usd >= 0),
    currency            char(3)        NOT NULL DEFAULT 'USD',
    persona_id          text           NOT NULL,
    post_id             text,
    operation           text,
    service             text,
    correlation_id      text,
    request_id          text,
    model               text,
    input_tokens        bigint,
    output_tokens       bigint,
    cached_input_tokens bigint,
    cpu_cores           numeric(18, 6),
    memory_gb           numeric(18, 6),
    duration_ms         bigint,
    vector_operation    text,
    vector_units        bigint,
    price_source        text           NOT NULL,
    price_version       text           NOT NULL,
    price_status        text           NOT NULL,
    unit_prices         jsonb          NOT NULL DEFAULT '{}',
    metadata            jsonb          NOT NULL DEFAULT '{}',
    kafka_partition     integer,
    kafka_offset        bigint,
    ingested_at         timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, event_time)
) PARTITION BY RANGE (event_time);

-- Catches times no monthly partition covers yet; finops_ensure_partitions moves them out.
CREATE TABLE cost_events_default PARTITION OF cost_events DEFAULT;

CREATE INDEX cost_events_post_time ON cost_events (post_id, event_time) WHERE post_id IS NOT NULL;
CREATE INDEX cost_events_persona_time ON cost_events (persona_id, event_time);

-- Creates the monthly partition holding `month_start`, moving any rows the default partition
-- holds for that month into it first (attaching would fail otherwise).
CREATE FUNCTION finops_create_month_partition(month_start date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    lo   timestamptz := date_trunc('month', month_start::timestamp) AT TIME ZONE 'UTC';
    hi   timestamptz := (date_trunc('month', month_start::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
    name text := format('cost_events_%s', to_char(month_start, 'YYYY_MM'));
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE cost_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
    EXECUTE format(
        'WITH moved AS (DELETE FROM cost_events_default WHERE event_time >= %L AND event_time < %L RETURNING *) '
        'INSERT INTO %I SELECT * FROM moved', lo, hi, name);
    EXECUTE format('ALTER TABLE cost_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
    RETURN name;
END $$;

-- Ensures partitions from `months_back` months before now to `months_ahead` after it.
CREATE FUNCTION finops_ensure_partitions(months_back int, months_ahead int) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    m int;
    created text;
BEGIN
    FOR m IN -months_back .. months_ahead LOOP
        created := finops_create_month_partition((date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m))::date);
        IF created IS NOT NULL THEN
            RETURN NEXT created;
        END IF;
    END LOOP;
END $$;

-- Drops monthly partitions that end before the first day of the month `keep_months` ago.
CREATE FUNCTION finops_drop_partitions_older_than(keep_months int) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamptz := (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => keep_months)) AT TIME ZONE 'UTC';
    part record;
BEGIN
    FOR part IN
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'cost_events'::regclass AND c.relname ~ '^cost_events_\d{4}_\d{2}$'
    LOOP
        IF (to_date(substr(part.relname, 13), 'YYYY_MM') + interval '1 month') <= cutoff THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            RETURN NEXT part.relname;
        END IF;
    END LOOP;
END $$;
