"""Ordered SQL migrations and the one small runner that applies them.

Files ``storage/migrations/NNNN_name.sql`` are applied in order (all pending ones in one
transaction, under an advisory lock) and recorded in ``schema_migration`` with a checksum.
Running the runner twice is a no-op; a migration edited after it was applied is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import psycopg

from meterwatch.errors import StorageError

_LOCK_KEY = 0x6D77_6D69  # "mwmi": serialises concurrent runners


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    folder = resources.files("storage") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [Migration(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply the pending migrations; return the versions applied now."""
    applied_now: list[str] = []
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migration ("
                " version text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            rows = conn.execute("SELECT version, checksum FROM schema_migration").fetchall()
            done: dict[str, str] = dict(rows)
            for migration in available_migrations():
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise StorageError(
                            f"migration {migration.version} was edited after it was applied"
                        )
                    continue
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migration (version, checksum) VALUES (%s, %s)",
                    (migration.version, migration.checksum),
                )
                applied_now.append(migration.version)
    except psycopg.Error as exc:
        raise StorageError(f"migration failed: {exc}") from exc
    return applied_now


def connect(url: str, **kwargs: object) -> psycopg.Connection:
    """Open a connection, mapping failures into :class:`StorageError`."""
    try:
        return psycopg.connect(url, **kwargs)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        raise StorageError(f"cannot connect to PostgreSQL: {exc}") from exc
