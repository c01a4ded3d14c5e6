-- meterwatch 0004: the tamper-evident audit log of events and lot verdicts.
-- Append-only and hash-chained: row `seq` stores `body`, the canonical serialisation of the
-- record (the text output of a jsonb value: keys in jsonb's fixed order, fixed spacing), the
-- previous row's hash, and hash = sha256(prev_hash || utf8(body)); the first row's prev_hash is
-- 32 zero bytes. Rows are appended by triggers on event and lot_verdict under an advisory
-- transaction lock, so concurrent writers chain one after the other (READ COMMITTED: each
-- statement of the trigger sees the rows committed by the previous lock holder).
-- `meterwatch audit verify` recomputes the chain.

CREATE TABLE IF NOT EXISTS audit_log (
    seq        bigint PRIMARY KEY CHECK (seq > 0),
    kind       text   NOT NULL CHECK (kind IN ('event', 'lot_verdict')),
    ref        text   NOT NULL,
    utility_id text,
    body       text   NOT NULL,
    prev_hash  bytea  NOT NULL,
    hash       bytea  NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_ref ON audit_log (kind, ref);

CREATE OR REPLACE FUNCTION meterwatch_audit_append(
    p_kind text, p_ref text, p_utility text, p_record jsonb)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    last_seq bigint;
    last_hash bytea;
    body text;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit log appends need READ COMMITTED, not %',
            current_setting('transaction_isolation');
    END IF;
    PERFORM pg_advisory_xact_lock(1836540268);  -- 'mwal'
    SELECT seq, hash INTO last_seq, last_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        last_seq := 0;
        last_hash := decode(repeat('00', 32), 'hex');
    END IF;
    body := jsonb_build_object(
        'seq', last_seq + 1, 'kind', p_kind, 'ref', p_ref, 'utility_id', p_utility,
        'recorded_at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'record', p_record)::text;
    INSERT INTO audit_log (seq, kind, ref, utility_id, body, prev_hash, hash)
    VALUES (last_seq + 1, p_kind, p_ref, p_utility, body, last_hash,
            sha256(last_hash || convert_to(body, 'UTF8')));
END $$;

CREATE OR REPLACE FUNCTION meterwatch_audit_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM new_rows ORDER BY time, id LOOP
        PERFORM meterwatch_audit_append('event', r.id, r.utility_id, to_jsonb(r));
    END LOOP;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION meterwatch_audit_verdict() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM meterwatch_audit_append('lot_verdict', NEW.verdict_id::text, NEW.utility_id,
                                    to_jsonb(NEW));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION meterwatch_audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'event_appends_audit_log'
                   AND tgrelid = 'event'::regclass) THEN
        CREATE TRIGGER event_appends_audit_log AFTER INSERT ON event
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION meterwatch_audit_events();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'lot_verdict_appends_audit_log'
                   AND tgrelid = 'lot_verdict'::regclass) THEN
        CREATE TRIGGER lot_verdict_appends_audit_log AFTER INSERT ON lot_verdict
            FOR EACH ROW EXECUTE FUNCTION meterwatch_audit_verdict();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_log_append_only'
                   AND tgrelid = 'audit_log'::regclass) THEN
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION meterwatch_audit_refuse_change();
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION meterwatch_audit_refuse_change();
    END IF;
END $$;
