"""The local services of deploy/local, driven from Python (CLI, demo)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from meterwatch.errors import ServiceError
from meterwatch.settings import CommonSettings
from meterwatch.topics import ensure_topics
from storage.migrate import connect, migrate

SERVICES_SCRIPT = Path(__file__).resolve().parent.parent / "deploy" / "local" / "services.sh"


def run_services_script(action: str) -> None:
    """``deploy/local/services.sh up|down|status|reset``; its output goes to the terminal."""
    result = subprocess.run(["bash", str(SERVICES_SCRIPT), action], check=False)
    if result.returncode:
        raise ServiceError(f"deploy/local/services.sh {action} failed ({result.returncode})")


def bring_up(settings: CommonSettings) -> tuple[list[str], list[str]]:
    """Start the services, create the topics, migrate; return (topics created, migrations)."""
    run_services_script("up")
    created = ensure_topics(settings.kafka_bootstrap, settings.kafka_partitions)
    with connect(settings.database_url) as conn:
        applied = migrate(conn)
    return created, applied
