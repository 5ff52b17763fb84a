-- Operator actions taken through the query API, appended and never changed: who (token name and
-- token id = first 12 hex digits of the token's SHA-256, never the token), what, on which target,
-- the state before and after, and when. GET /audit reads it newest first, by audit_id.
CREATE TABLE api_audit_log (
    audit_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    token_id    text        NOT NULL,
    action      text        NOT NULL CHECK (action IN ('budget.create', 'budget.replace', 'budget.delete', 'control.resume', 'control.override')),
    persona_id  text        NOT NULL,
    target      text        NOT NULL,
    before      jsonb,
    after       jsonb,
    request_id  text        NOT NULL
);

CREATE INDEX api_audit_log_persona ON api_audit_log (persona_id, audit_id DESC);
CREATE INDEX api_audit_log_action ON api_audit_log (action, audit_id DESC);

-- Append-only, whoever connects: updates and deletes are refused (TRUNCATE needs the owner).
CREATE FUNCTION api_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'api_audit_log is append-only (% refused)', TG_OP USING ERRCODE = '42501';
END $$;

CREATE TRIGGER api_audit_log_append_only BEFORE UPDATE OR DELETE ON api_audit_log
    FOR EACH ROW EXECUTE FUNCTION api_audit_log_append_only();
