-- meterwatch 0003: daily energy per meter.
-- Plain PostgreSQL: the table daily_energy_day, refreshed incrementally by
-- meterwatch_refresh_daily_energy(): a statement trigger on reading marks the UTC days that
-- received rows (rollup_dirty_day) and a refresh recomputes only those days.
-- TimescaleDB (detected; NOT tested here): daily_energy_day is a continuous aggregate with a
-- refresh policy instead, and the trigger is not created (hypertables reject transition tables).
-- Registers are cumulative, so a day's energy is its last register value minus the previous
-- day's last value (or minus its own first value when the previous day has no readings):
-- view daily_energy.

DO $$
BEGIN
    IF to_regclass('daily_energy_day') IS NOT NULL THEN
        RETURN;
    END IF;
    IF meterwatch_has_timescaledb() THEN
        EXECUTE $cagg$
            CREATE MATERIALIZED VIEW daily_energy_day WITH (timescaledb.continuous) AS
            SELECT meter_id, time_bucket(interval '1 day', ts) AS day_start,
                   max(utility_id) AS utility_id, max(area_id) AS area_id,
                   count(*)::integer AS readings,
                   min(ts) AS first_ts, max(ts) AS last_ts,
                   first(import_wh, ts) AS first_import_wh, last(import_wh, ts) AS last_import_wh,
                   first(export_wh, ts) AS first_export_wh, last(export_wh, ts) AS last_export_wh
            FROM reading GROUP BY meter_id, time_bucket(interval '1 day', ts)
            WITH NO DATA
        $cagg$;
        PERFORM add_continuous_aggregate_policy('daily_energy_day',
            start_offset => interval '3 days', end_offset => interval '1 hour',
            schedule_interval => interval '1 hour');
    ELSE
        CREATE TABLE daily_energy_day (
            meter_id        text        NOT NULL,
            day_start       timestamptz NOT NULL,
            utility_id      text        NOT NULL,
            area_id         text        NOT NULL,
            readings        integer     NOT NULL,
            first_ts        timestamptz NOT NULL,
            last_ts         timestamptz NOT NULL,
            first_import_wh bigint      NOT NULL,
            last_import_wh  bigint      NOT NULL,
            first_export_wh bigint      NOT NULL,
            last_export_wh  bigint      NOT NULL,
            PRIMARY KEY (meter_id, day_start)
        );
        CREATE INDEX daily_energy_day_utility ON daily_energy_day (utility_id, day_start);
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS rollup_dirty_day (
    day date PRIMARY KEY
);

CREATE OR REPLACE FUNCTION meterwatch_mark_reading_days() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO rollup_dirty_day (day)
    SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM new_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

DO $$
BEGIN
    IF NOT meterwatch_has_timescaledb() AND NOT EXISTS (
        SELECT 1 FROM pg_trigger WHERE tgname = 'reading_marks_rollup_days'
            AND tgrelid = 'reading'::regclass) THEN
        CREATE TRIGGER reading_marks_rollup_days AFTER INSERT ON reading
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION meterwatch_mark_reading_days();
    END IF;
END $$;

-- Readings stored before this migration: their days are due for the first refresh.
INSERT INTO rollup_dirty_day (day)
SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM reading
ON CONFLICT DO NOTHING;

-- Recomputes the days marked since the last refresh; returns them.
CREATE OR REPLACE FUNCTION meterwatch_refresh_daily_energy() RETURNS SETOF date
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    d date;
    day_from timestamptz;
BEGIN
    IF meterwatch_has_timescaledb() THEN
        RAISE EXCEPTION 'on TimescaleDB daily_energy_day is a continuous aggregate: '
            'use refresh_continuous_aggregate';
    END IF;
    FOR d IN
        WITH taken AS (DELETE FROM rollup_dirty_day RETURNING day) SELECT day FROM taken ORDER BY day
    LOOP
        day_from := d::timestamp AT TIME ZONE 'UTC';
        DELETE FROM daily_energy_day WHERE day_start = day_from;
        INSERT INTO daily_energy_day
        SELECT meter_id, day_from,
               (array_agg(utility_id ORDER BY ts DESC))[1],
               (array_agg(area_id ORDER BY ts DESC))[1],
               count(*), min(ts), max(ts),
               (array_agg(import_wh ORDER BY ts))[1], (array_agg(import_wh ORDER BY ts DESC))[1],
               (array_agg(export_wh ORDER BY ts))[1], (array_agg(export_wh ORDER BY ts DESC))[1]
        FROM reading
        WHERE ts >= day_from AND ts < day_from + interval '1 day'
        GROUP BY meter_id;
        RETURN NEXT d;
    END LOOP;
END $$;

CREATE OR REPLACE VIEW daily_energy WITH (security_invoker = true) AS
SELECT meter_id, (day_start AT TIME ZONE 'UTC')::date AS day, utility_id, area_id, readings,
       last_import_wh - CASE WHEN lag(day_start) OVER w = day_start - interval '1 day'
                             THEN lag(last_import_wh) OVER w ELSE first_import_wh END AS import_wh,
       last_export_wh - CASE WHEN lag(day_start) OVER w = day_start - interval '1 day'
                             THEN lag(last_export_wh) OVER w ELSE first_export_wh END AS export_wh
FROM daily_energy_day
WINDOW w AS (PARTITION BY meter_id ORDER BY day_start);
