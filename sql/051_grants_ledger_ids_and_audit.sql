-- Grants for the tables of 013 (the event-id ledger) and 030 (the operator audit log), which were
-- created before 050 made the per-role groups. Later migrations grant their own tables.

-- Storage claims each event id in cost_event_ids before it stores the event.
GRANT SELECT, INSERT ON cost_event_ids TO finops_storage;

-- The API appends operator actions and reads them back (GET /audit); the table refuses UPDATE and
-- DELETE for everyone by trigger.
GRANT SELECT, INSERT ON api_audit_log TO finops_api;
