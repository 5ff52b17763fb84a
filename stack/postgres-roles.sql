-- Database roles of the local stack (docs/security.md, "Database roles and grants"), applied by
-- stack/stack.sh as the superuser on every `up`, and by testkit's PrivatePostgres. Idempotent.
--
-- NOLOGIN group roles hold the grants (made by the numbered migrations, sql/050_database_roles.sql
-- and later); one LOGIN user per pipeline role is a member of its group. Elsewhere the operator
-- creates the logins with real passwords and hands each role its URL through a Secret; the
-- passwords here are for the local stack only.
DO $$
DECLARE
    grp text;
BEGIN
    FOREACH grp IN ARRAY ARRAY['finops_storage', 'finops_anomaly', 'finops_alerts', 'finops_breaker', 'finops_api'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grp) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', grp);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grp || '_login') THEN
            EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I', grp || '_login', grp || '_login', grp);
        END IF;
    END LOOP;
END $$;
