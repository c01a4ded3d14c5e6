-- meterwatch 0005: roles and row-level security.
--   meterwatch_writer     the services (LOGIN; local-dev password 'meterwatch_writer', change it
--                         with ALTER ROLE in any real deployment). BYPASSRLS, because COPY FROM
--                         is refused on tables with row-level security; it can insert readings,
--                         events and estimates, and cannot touch the audit log.
--   meterwatch_regulator  group role: reads everything, the audit log included.
--   meterwatch_utility    group role of the per-utility roles (meterwatch_create_utility_role).
-- A utility role's utilities are the rows of utility_role naming it; utility roles cannot write
-- that table, so the binding is not forgeable by the session. The session setting
-- meterwatch.utility can only narrow a role's view to one of its own utilities, never widen it.
-- Views are security_invoker, so they apply the caller's policies; partitions carry no grants,
-- so they cannot be read around the parent's policies.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'meterwatch_writer') THEN
        CREATE ROLE meterwatch_writer LOGIN BYPASSRLS PASSWORD 'meterwatch_writer';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'meterwatch_regulator') THEN
        CREATE ROLE meterwatch_regulator NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'meterwatch_utility') THEN
        CREATE ROLE meterwatch_utility NOLOGIN;
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS utility_role (
    role_name  name NOT NULL,
    utility_id text NOT NULL REFERENCES utility,
    PRIMARY KEY (role_name, utility_id)
);

-- Creates (or extends) the login role of a utility: member of meterwatch_utility, bound to
-- the utility in utility_role. Only the schema owner and superusers may call it.
CREATE OR REPLACE FUNCTION meterwatch_create_utility_role(
    p_role text, p_utility text, p_password text)
RETURNS void LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF p_role !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'role name must be lower-case letters, digits and _: %', p_role;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_role) THEN
        EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', p_role, p_password);
    END IF;
    EXECUTE format('GRANT meterwatch_utility TO %I', p_role);
    INSERT INTO utility_role (role_name, utility_id) VALUES (p_role, p_utility)
    ON CONFLICT DO NOTHING;
END $$;

-- Functions are executable by PUBLIC by default; ours are not (the partition functions and
-- the audit append run as their owner).
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'meterwatch\_%'
                   AND p.proname <> 'meterwatch_has_timescaledb'
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;

GRANT SELECT, INSERT ON reading, event, error_estimate TO meterwatch_writer;
GRANT SELECT, INSERT, UPDATE ON consumer_offset TO meterwatch_writer;
GRANT SELECT ON schema_migration TO meterwatch_writer;
GRANT EXECUTE ON FUNCTION meterwatch_ensure_reading_partitions(date, date, integer),
    meterwatch_ensure_time_partitions(text, date, date, integer) TO meterwatch_writer;

GRANT SELECT ON utility, area, lot, meter, reading, error_estimate, event, inspection,
    sampling_plan, sample, lot_verdict, daily_energy_day, daily_energy, audit_log,
    utility_role, consumer_offset, schema_migration TO meterwatch_regulator;

GRANT SELECT ON utility, area, lot, meter, reading, error_estimate, event, inspection,
    sampling_plan, sample, lot_verdict, daily_energy, utility_role TO meterwatch_utility;

DO $$
DECLARE
    t text;
BEGIN
    -- A continuous aggregate (TimescaleDB) cannot carry policies: utility roles get no
    -- access to it there, only the regulator does (untested: no TimescaleDB here).
    IF to_regclass('daily_energy_day') IS NOT NULL
       AND (SELECT relkind FROM pg_class WHERE oid = 'daily_energy_day'::regclass) IN ('r', 'p') THEN
        EXECUTE 'GRANT SELECT ON daily_energy_day TO meterwatch_utility';
    ELSE
        EXECUTE 'REVOKE SELECT ON daily_energy FROM meterwatch_utility';
    END IF;
    FOREACH t IN ARRAY ARRAY['utility', 'area', 'lot', 'meter', 'reading', 'error_estimate',
        'event', 'inspection', 'sampling_plan', 'sample', 'lot_verdict', 'daily_energy_day',
        'audit_log']
    LOOP
        IF (SELECT relkind FROM pg_class WHERE oid = t::regclass) NOT IN ('r', 'p') THEN
            CONTINUE;
        END IF;
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS regulator_reads_all ON %I', t);
        EXECUTE format('CREATE POLICY regulator_reads_all ON %I FOR SELECT '
                       'TO meterwatch_regulator USING (true)', t);
        EXECUTE format('DROP POLICY IF EXISTS utility_reads_own ON %I', t);
        EXECUTE format(
            'CREATE POLICY utility_reads_own ON %I FOR SELECT TO meterwatch_utility USING ('
            'utility_id IN (SELECT r.utility_id FROM utility_role r '
            '               WHERE r.role_name = current_user) '
            'AND utility_id = coalesce(nullif(current_setting(''meterwatch.utility'', true), ''''), '
            '                          utility_id))', t);
    END LOOP;
END $$;

ALTER TABLE utility_role ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS regulator_reads_all ON utility_role;
CREATE POLICY regulator_reads_all ON utility_role FOR SELECT TO meterwatch_regulator USING (true);
DROP POLICY IF EXISTS utility_reads_own ON utility_role;
CREATE POLICY utility_reads_own ON utility_role FOR SELECT TO meterwatch_utility
    USING (role_name = current_user);
