-- Least privilege: one NOLOGIN group role per pipeline role, holding only the grants that role
-- needs; each process logs in as a member of its group (docs/security.md, "Database roles and
-- grants"). The migrator (the login running this) owns every table and function.
--
-- Roles are cluster-wide: this creates the groups when the migrator may (CREATEROLE); otherwise
-- they must exist already (stack/postgres-roles.sql, or the operator).
--
-- Every later migration that adds a table, sequence or function grants it to the groups that use
-- it, in the same file (e.g. GRANT SELECT, INSERT ON my_table TO finops_api;). Nothing is granted
-- by default privileges, so a table no migration granted is out of every role's reach.
DO $$
DECLARE
    grp        text;
    may_create boolean := (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user);
BEGIN
    FOREACH grp IN ARRAY ARRAY['finops_storage', 'finops_anomaly', 'finops_alerts', 'finops_breaker', 'finops_api'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grp) THEN
            IF may_create THEN
                EXECUTE format('CREATE ROLE %I NOLOGIN', grp);
            ELSE
                RAISE EXCEPTION 'database role % is missing and % may not create roles: as a user with CREATEROLE run CREATE ROLE % NOLOGIN (stack/postgres-roles.sql creates all five), then run setup again', grp, current_user, grp;
            END IF;
        END IF;
    END LOOP;
END $$;

-- Nobody but the owner creates objects in the schema (PostgreSQL 15's default, made explicit).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Every role reads the schema version: a role waits, unready, until setup has migrated (src/http/readiness.ts).
GRANT SELECT ON schema_migrations TO finops_storage, finops_anomaly, finops_alerts, finops_breaker, finops_api;

-- Partition maintenance is DDL on cost_events, which only its owner may do: the storage role
-- calls these functions, which run as their owner, and nobody else may call them.
ALTER FUNCTION finops_create_month_partition(date) SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION finops_ensure_partitions(int, int) SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION finops_drop_partitions_older_than(int) SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE EXECUTE ON FUNCTION finops_create_month_partition(date), finops_ensure_partitions(int, int), finops_drop_partitions_older_than(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finops_ensure_partitions(int, int), finops_drop_partitions_older_than(int) TO finops_storage;

-- storage: appends events (its staging table is a session TEMP table, LIKE cost_events), upserts rollups, records dead letters.
GRANT SELECT, INSERT ON cost_events TO finops_storage;
GRANT SELECT, INSERT, UPDATE ON post_costs, persona_daily_costs TO finops_storage;
GRANT SELECT, INSERT ON dead_letters TO finops_storage, finops_anomaly;
GRANT USAGE ON SEQUENCE dead_letters_id_seq TO finops_storage, finops_anomaly;

-- anomaly: reads budgets and targets, keeps anomalies and its checkpoints.
GRANT SELECT ON budgets, persona_targets TO finops_anomaly;
GRANT SELECT, INSERT, UPDATE ON cost_anomalies, anomaly_checkpoints TO finops_anomaly;

-- alerts (and the breaker, which pages through the same delivery log).
GRANT SELECT, INSERT, UPDATE ON alert_deliveries TO finops_alerts, finops_breaker;

-- breaker: appends its audit trail of control transitions.
GRANT SELECT, INSERT ON control_transitions TO finops_breaker;

-- api: reads; writes only budgets and the operator audit of controls (resume, override).
GRANT SELECT ON cost_events, post_costs, persona_daily_costs, cost_anomalies, persona_targets, control_transitions, alert_deliveries TO finops_api;
GRANT SELECT, INSERT, UPDATE, DELETE ON budgets TO finops_api;
GRANT INSERT ON control_transitions TO finops_api;
