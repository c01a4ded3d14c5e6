-- meterwatch 0002: the registry (utility, area, lot, meter), the detectors' error estimates and
-- the supervision records (sampling plan, sample, inspection, lot verdict).
-- No foreign key from reading/error_estimate/event to meter: readings stream in before the
-- registry may know a meter, and ingest must never stall on the registry.
-- Every statement is idempotent: running this file again leaves the schema unchanged.

CREATE TABLE IF NOT EXISTS utility (
    utility_id text PRIMARY KEY CHECK (utility_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name       text NOT NULL
);

CREATE TABLE IF NOT EXISTS area (
    utility_id text NOT NULL REFERENCES utility,
    area_id    text NOT NULL CHECK (area_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name       text NOT NULL,
    PRIMARY KEY (utility_id, area_id)
);

-- A homogeneous lot of one utility; rule and key as formed by supervision.lots.
CREATE TABLE IF NOT EXISTS lot (
    lot_id     text PRIMARY KEY,
    utility_id text NOT NULL REFERENCES utility,
    rule       jsonb NOT NULL,
    lot_key    jsonb NOT NULL,
    size       integer NOT NULL CHECK (size >= 0),
    formed_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (lot_id, utility_id)
);
CREATE INDEX IF NOT EXISTS lot_utility ON lot (utility_id);

CREATE TABLE IF NOT EXISTS meter (
    meter_id         text PRIMARY KEY CHECK (meter_id ~ '^[0-9]{12}$'),
    utility_id       text NOT NULL,
    area_id          text NOT NULL,
    meter_type       text NOT NULL,
    accuracy_class   text NOT NULL,
    manufacturer     text NOT NULL,
    model            text NOT NULL,
    production_batch text NOT NULL,
    install_date     date NOT NULL,
    lot_id           text,
    UNIQUE (meter_id, utility_id),
    FOREIGN KEY (utility_id, area_id) REFERENCES area,
    FOREIGN KEY (lot_id, utility_id) REFERENCES lot (lot_id, utility_id)
);
CREATE INDEX IF NOT EXISTS meter_utility_area ON meter (utility_id, area_id);
CREATE INDEX IF NOT EXISTS meter_lot ON meter (lot_id);

-- The dashboard reads a utility's or an area's recent readings and events.
CREATE INDEX IF NOT EXISTS reading_utility_ts ON reading (utility_id, ts);
CREATE INDEX IF NOT EXISTS event_utility_time ON event (utility_id, time);

-- Detector output per meter and time; error_pct is NULL when the error is not identifiable,
-- uncertainty_pct is its standard uncertainty (k = 1), both in %.
-- A hypertable with compression on TimescaleDB (NOT tested here), otherwise partitioned by
-- time like reading (partitions from meterwatch_ensure_time_partitions).
DO $$
BEGIN
    IF to_regclass('error_estimate') IS NOT NULL THEN
        RETURN;
    END IF;
    IF meterwatch_has_timescaledb() THEN
        CREATE TABLE error_estimate (
            meter_id        text             NOT NULL,
            ts              timestamptz      NOT NULL,
            utility_id      text             NOT NULL,
            area_id         text             NOT NULL,
            error_pct       double precision,
            uncertainty_pct double precision CHECK (uncertainty_pct >= 0),
            identifiable    boolean          NOT NULL,
            decision        text             NOT NULL,
            detector        text             NOT NULL,
            PRIMARY KEY (meter_id, detector, ts)
        );
        PERFORM create_hypertable('error_estimate', 'ts', chunk_time_interval => interval '7 days');
        EXECUTE 'ALTER TABLE error_estimate SET (timescaledb.compress, '
                'timescaledb.compress_segmentby = ''meter_id'')';
        PERFORM add_compression_policy('error_estimate', interval '30 days');
    ELSE
        CREATE TABLE error_estimate (
            meter_id        text             NOT NULL,
            ts              timestamptz      NOT NULL,
            utility_id      text             NOT NULL,
            area_id         text             NOT NULL,
            error_pct       double precision,
            uncertainty_pct double precision CHECK (uncertainty_pct >= 0),
            identifiable    boolean          NOT NULL,
            decision        text             NOT NULL,
            detector        text             NOT NULL,
            PRIMARY KEY (meter_id, detector, ts)
        ) PARTITION BY RANGE (ts);
    END IF;
END $$;

-- TimescaleDB retention policies (NOT tested here); on plain PostgreSQL retention is the
-- command `meterwatch retention apply --older-than DAYS`. Three years by default; change with
-- remove_retention_policy / add_retention_policy.
DO $$
BEGIN
    IF meterwatch_has_timescaledb() THEN
        PERFORM add_retention_policy('reading', interval '1095 days', if_not_exists => true);
        PERFORM add_retention_policy('error_estimate', interval '1095 days', if_not_exists => true);
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS error_estimate_utility_area_ts ON error_estimate (utility_id, area_id, ts);
CREATE INDEX IF NOT EXISTS error_estimate_decision_ts ON error_estimate (decision, ts);

-- Creates the missing partitions `<parent>_pYYYYMMDD` of width `days` covering
-- [first_day, last_day] (the same grid as meterwatch_ensure_reading_partitions).
CREATE OR REPLACE FUNCTION meterwatch_ensure_time_partitions(
    parent text, first_day date, last_day date, days integer)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    start_day date := date '2000-01-01' + ((first_day - date '2000-01-01') / days) * days;
    created integer := 0;
    name text;
BEGIN
    IF parent NOT IN ('reading', 'error_estimate') THEN
        RAISE EXCEPTION 'not a time-partitioned meterwatch table: %', parent;
    END IF;
    IF meterwatch_has_timescaledb() THEN
        RETURN 0;
    END IF;
    WHILE start_day <= last_day LOOP
        name := format('%s_p%s', parent, to_char(start_day, 'YYYYMMDD'));
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                name, parent, start_day::timestamp AT TIME ZONE 'UTC',
                (start_day + days)::timestamp AT TIME ZONE 'UTC');
            created := created + 1;
        END IF;
        start_day := start_day + days;
    END LOOP;
    RETURN created;
END $$;

-- The writer role creates partitions through these without owning the tables.
ALTER FUNCTION meterwatch_ensure_reading_partitions(date, date, integer)
    SECURITY DEFINER SET search_path = public, pg_temp;

-- Drops the partitions of `parent` that lie wholly before `cutoff` and returns their names
-- (on TimescaleDB: drop_chunks). Retention never drops a partition holding newer rows.
CREATE OR REPLACE FUNCTION meterwatch_drop_partitions_before(parent text, cutoff timestamptz)
RETURNS SETOF text LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    part record;
BEGIN
    IF parent NOT IN ('reading', 'error_estimate') THEN
        RAISE EXCEPTION 'not a time-partitioned meterwatch table: %', parent;
    END IF;
    IF meterwatch_has_timescaledb() THEN
        RETURN QUERY EXECUTE 'SELECT c::text FROM drop_chunks($1::regclass, older_than => $2) c'
            USING parent, cutoff;
        RETURN;
    END IF;
    FOR part IN
        SELECT c.relname,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid),
                             'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper_bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = parent::regclass
        ORDER BY 2
    LOOP
        IF part.upper_bound IS NOT NULL AND part.upper_bound <= cutoff THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            RETURN NEXT part.relname;
        END IF;
    END LOOP;
END $$;

CREATE TABLE IF NOT EXISTS sampling_plan (
    plan_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lot_id       text NOT NULL,
    utility_id   text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('attributes', 'variables')),
    severity     text NOT NULL CHECK (severity IN ('normal', 'tightened', 'reduced')),
    level        text NOT NULL,
    aql          text NOT NULL,
    lot_size     integer NOT NULL CHECK (lot_size > 0),
    code_letter  text NOT NULL,
    sample_size  integer NOT NULL CHECK (sample_size > 0),
    ac           integer,
    re           integer,
    k            double precision,
    method       text NOT NULL,
    seed         bigint NOT NULL CHECK (seed >= 0),
    generator    text NOT NULL,
    floor_share  double precision,
    notes        text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (lot_id, utility_id) REFERENCES lot (lot_id, utility_id),
    UNIQUE (plan_id, utility_id)
);
CREATE INDEX IF NOT EXISTS sampling_plan_lot ON sampling_plan (lot_id, created_at);

CREATE TABLE IF NOT EXISTS sample (
    plan_id               bigint NOT NULL,
    meter_id              text NOT NULL,
    utility_id            text NOT NULL,
    inclusion_probability double precision NOT NULL
        CHECK (inclusion_probability > 0 AND inclusion_probability <= 1),
    PRIMARY KEY (plan_id, meter_id),
    FOREIGN KEY (plan_id, utility_id) REFERENCES sampling_plan (plan_id, utility_id),
    FOREIGN KEY (meter_id, utility_id) REFERENCES meter (meter_id, utility_id)
);
CREATE INDEX IF NOT EXISTS sample_meter ON sample (meter_id);

CREATE TABLE IF NOT EXISTS inspection (
    inspection_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    meter_id                 text NOT NULL,
    utility_id               text NOT NULL,
    plan_id                  bigint REFERENCES sampling_plan,
    inspected_on             date NOT NULL,
    measured_error_pct       double precision NOT NULL,
    expanded_uncertainty_pct double precision NOT NULL CHECK (expanded_uncertainty_pct >= 0),
    inspector                text NOT NULL,
    equipment                text NOT NULL,
    imported_at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (meter_id, inspected_on),
    FOREIGN KEY (meter_id, utility_id) REFERENCES meter (meter_id, utility_id)
);
CREATE INDEX IF NOT EXISTS inspection_plan ON inspection (plan_id);
CREATE INDEX IF NOT EXISTS inspection_utility_date ON inspection (utility_id, inspected_on);

CREATE TABLE IF NOT EXISTS lot_verdict (
    verdict_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lot_id          text NOT NULL,
    utility_id      text NOT NULL,
    plan_id         bigint NOT NULL REFERENCES sampling_plan,
    decision        text NOT NULL CHECK (decision IN ('accept', 'reject')),
    method          text NOT NULL CHECK (method IN ('attributes', 'variables')),
    decision_rule   text,
    mpe_pct         double precision NOT NULL,
    inspected       integer NOT NULL,
    nonconforming   integer NOT NULL,
    ac              integer,
    re              integer,
    k               double precision,
    q_upper         double precision,
    q_lower         double precision,
    ht_fraction     double precision,
    ht_lower        double precision,
    ht_upper        double precision,
    notes           text[] NOT NULL DEFAULT '{}',
    decided_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (lot_id, utility_id) REFERENCES lot (lot_id, utility_id)
);
CREATE INDEX IF NOT EXISTS lot_verdict_lot ON lot_verdict (lot_id, decided_at);
CREATE INDEX IF NOT EXISTS lot_verdict_utility ON lot_verdict (utility_id, decided_at);
