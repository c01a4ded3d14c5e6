-- meterwatch 0001: readings, events and the writer's consumed Kafka offsets.
-- reading is a TimescaleDB hypertable where the extension is preloaded, otherwise a natively
-- range-partitioned table whose partitions the writer creates ahead of its COPY
-- (meterwatch_ensure_reading_partitions below).

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND current_setting('shared_preload_libraries') LIKE '%timescaledb%' THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION meterwatch_has_timescaledb() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
$$;

DO $$
BEGIN
    IF to_regclass('reading') IS NOT NULL THEN
        RETURN;
    END IF;
    IF meterwatch_has_timescaledb() THEN
        CREATE TABLE reading (
            meter_id   text        NOT NULL,
            ts         timestamptz NOT NULL,
            utility_id text        NOT NULL,
            area_id    text        NOT NULL,
            import_wh  bigint      NOT NULL,
            export_wh  bigint      NOT NULL,
            voltage_v  double precision,
            current_a  double precision,
            flags      integer     NOT NULL DEFAULT 0,
            PRIMARY KEY (meter_id, ts)
        );
        PERFORM create_hypertable('reading', 'ts', chunk_time_interval => interval '1 day');
        EXECUTE 'ALTER TABLE reading SET (timescaledb.compress, '
                'timescaledb.compress_segmentby = ''meter_id'')';
        PERFORM add_compression_policy('reading', interval '7 days');
    ELSE
        CREATE TABLE reading (
            meter_id   text        NOT NULL,
            ts         timestamptz NOT NULL,
            utility_id text        NOT NULL,
            area_id    text        NOT NULL,
            import_wh  bigint      NOT NULL,
            export_wh  bigint      NOT NULL,
            voltage_v  double precision,
            current_a  double precision,
            flags      integer     NOT NULL DEFAULT 0,
            PRIMARY KEY (meter_id, ts)
        ) PARTITION BY RANGE (ts);
    END IF;
END $$;

CREATE INDEX IF NOT EXISTS reading_area_ts ON reading (area_id, ts);

-- Creates the missing partitions of width `days` covering [first_day, last_day].
-- A no-op on TimescaleDB, where chunks are created on insert.
CREATE OR REPLACE FUNCTION meterwatch_ensure_reading_partitions(first_day date, last_day date, days integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    start_day date := date '2000-01-01' + ((first_day - date '2000-01-01') / days) * days;
    created integer := 0;
    name text;
BEGIN
    IF meterwatch_has_timescaledb() THEN
        RETURN 0;
    END IF;
    WHILE start_day <= last_day LOOP
        name := format('reading_p%s', to_char(start_day, 'YYYYMMDD'));
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF reading FOR VALUES FROM (%L) TO (%L)',
                name, start_day::timestamp AT TIME ZONE 'UTC',
                (start_day + days)::timestamp AT TIME ZONE 'UTC');
            created := created + 1;
        END IF;
        start_day := start_day + days;
    END LOOP;
    RETURN created;
END $$;

CREATE TABLE IF NOT EXISTS event (
    id          text        PRIMARY KEY,
    type        text        NOT NULL,
    source      text        NOT NULL,
    subject     text        NOT NULL,
    time        timestamptz NOT NULL,
    utility_id  text,
    area_id     text,
    data        jsonb       NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS event_subject_time ON event (subject, time);
CREATE INDEX IF NOT EXISTS event_type_time ON event (type, time);

-- Offsets the writer consumed, committed in the same transaction as the rows, so a restarted
-- writer resumes exactly after its last committed batch.
CREATE TABLE IF NOT EXISTS consumer_offset (
    consumer_group text    NOT NULL,
    topic          text    NOT NULL,
    partition      integer NOT NULL,
    next_offset    bigint  NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);
