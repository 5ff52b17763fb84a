-- ingested_at records when the storing statement ran (clock_timestamp), not when its transaction
-- began (now()), so publish → stored latency can be read from the rows themselves.
ALTER TABLE cost_events ALTER COLUMN ingested_at SET DEFAULT clock_timestamp();
