-- Rollup rows are updated in place on every batch. Leaving room on each page and indexing only
-- the key lets Postgres make those updates HOT (no index maintenance, no index bloat).
-- Nothing reads post_costs by persona; the index on (persona_id, last_event_at) went unused.
DROP INDEX IF EXISTS post_costs_persona_last;
ALTER TABLE post_costs SET (fillfactor = 70);
ALTER TABLE persona_daily_costs SET (fillfactor = 70);
