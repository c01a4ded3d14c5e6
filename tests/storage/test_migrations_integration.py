"""Migrations run twice give the same schema."""

from __future__ import annotations

import psycopg
import pytest

from storage.migrate import available_migrations, migrate

pytestmark = pytest.mark.integration

# Everything in the public schema except partitions (other tests create them meanwhile).
CATALOG = """
SELECT 'rel', c.relname || ':' || c.relkind::text || ':' || c.relrowsecurity || ':'
       || coalesce(array_to_string(c.relacl, ','), '')
FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND NOT c.relispartition
  AND c.relname !~ '_p[0-9]{8}'
UNION ALL
SELECT 'col', c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod)
       || ':' || a.attnotnull || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = 'public'::regnamespace AND NOT c.relispartition AND a.attnum > 0
  AND NOT a.attisdropped AND c.relname !~ '_p[0-9]{8}'
UNION ALL
SELECT 'con', conrelid::regclass || ':' || conname || ':' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  AND conrelid::regclass::text !~ '_p[0-9]{8}'
UNION ALL
SELECT 'idx', indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename !~ '_p[0-9]{8}'
UNION ALL
SELECT 'pol', tablename || ':' || policyname || ':' || array_to_string(roles, ',') || ':'
       || cmd || ':' || coalesce(qual, '') FROM pg_policies WHERE schemaname = 'public'
UNION ALL
SELECT 'trg', tgrelid::regclass || ':' || pg_get_triggerdef(oid) FROM pg_trigger
WHERE NOT tgisinternal AND tgrelid::regclass::text !~ '_p[0-9]{8}'
UNION ALL
SELECT 'fn', p.oid::regprocedure || ':' || md5(pg_get_functiondef(p.oid)) || ':'
       || coalesce(array_to_string(p.proacl, ','), '')
FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
UNION ALL
SELECT 'role', rolname || ':' || rolcanlogin || ':' || rolbypassrls FROM pg_roles
WHERE rolname IN ('meterwatch_writer', 'meterwatch_regulator', 'meterwatch_utility')
ORDER BY 1, 2
"""


def _catalog(conn: psycopg.Connection) -> list[tuple[str, str]]:
    return [(kind, text) for kind, text in conn.execute(CATALOG).fetchall()]


def test_running_the_migrations_again_changes_nothing(db: psycopg.Connection) -> None:
    before = _catalog(db)
    assert migrate(db) == []  # the runner: every migration is recorded, none applied again
    # The SQL itself is idempotent too: executing every file once more keeps the schema.
    with db.transaction():
        for migration in available_migrations():
            db.execute(migration.sql.encode())
    after = _catalog(db)
    assert {kind for kind, _ in before} >= {"rel", "col", "con", "idx", "pol", "trg", "fn", "role"}
    assert after == before
