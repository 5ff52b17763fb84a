-- A checkpoint rewrites a few MB of state text per partition every few seconds; pglz compressing
-- it costs Postgres more CPU than the consumer spends producing it. lz4 is several times cheaper.
-- Servers built without lz4 keep the default compression.
DO $$
BEGIN
  ALTER TABLE anomaly_checkpoints ALTER COLUMN state SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
  RAISE NOTICE 'lz4 not available: anomaly_checkpoints.state keeps the default compression';
END $$;
