-- Every refused input message, recorded in the same transaction as the batch it came with, so
-- count(published) = count(stored) + count(dead_letters) holds exactly across crashes.
-- The dead-letter topic carries the same records for tools that work from Kafka.
CREATE TABLE dead_letters (
    id               bigserial PRIMARY KEY,
    consumer_group   text        NOT NULL,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    reason           text        NOT NULL,
    error            text        NOT NULL,
    message_key      bytea,
    payload          bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer_group, source_topic, source_partition, source_offset)
);
CREATE INDEX dead_letters_reason ON dead_letters (reason, created_at);
