"""The ``meterwatch`` command line: services, operations and tools.

Every service reads its settings from ``METERWATCH_*`` environment variables (see
``meterwatch/settings.py``); options given here override them.
"""

from __future__ import annotations

import logging
import sys

import click
from pydantic import ValidationError

from meterwatch.errors import MeterwatchError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
def main(log_level: str) -> None:
    """meterwatch: real-time supervision of legally controlled smart meters.

    \b
    Data flow: meters -MQTT-> ingest -Kafka-> stream (detectors) -Kafka-> store -> PostgreSQL.
    Start the local services with `meterwatch services up`, then run `ingest`, `stream` and
    `store` (each a long-running service), or run the whole thing with `meterwatch demo`.
    Configuration comes from METERWATCH_* environment variables.
    """
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for chatty in ("kafka", "aiokafka"):  # connection chatter at INFO drowns our own lines
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))


def _start_metrics(port: int) -> None:
    if port:
        from prometheus_client import start_http_server

        start_http_server(port, addr="127.0.0.1")
        logging.getLogger("meterwatch").info("Prometheus metrics on :%s/metrics", port)


@main.command()
@click.option(
    "--forget-session",
    is_flag=True,
    help="Drop this bridge's persistent MQTT session (METERWATCH_MQTT_CLIENT_ID) and exit. "
    "Do this when a bridge instance is retired, or the broker keeps queueing its share of "
    "the shared subscription for it.",
)
def ingest(forget_session: bool) -> None:
    """MQTT -> Kafka bridge.

    Subscribes to the shared subscription $share/<group>/meters/# with a persistent MQTT v5
    session, decodes JSON v1 and DL/T 645 payloads, batches readings per area into frames,
    produces them to meterwatch.readings (acks=all, idempotent) and only then acknowledges the
    MQTT messages. Rejects go to meterwatch.readings.dlq with a reason header.
    Env: METERWATCH_MQTT_HOST/PORT, METERWATCH_KAFKA_BOOTSTRAP, METERWATCH_LINGER_MS,
    METERWATCH_MAX_BATCH_MESSAGES, METERWATCH_MQTT_RECEIVE_MAXIMUM, METERWATCH_METRICS_PORT.
    """
    from ingest.bridge import run_bridge
    from ingest.mqtt_source import forget_session as drop_session
    from meterwatch.settings import IngestSettings

    settings = IngestSettings()
    if forget_session:
        drop_session(settings.mqtt_host, settings.mqtt_port, settings.mqtt_client_id)
        click.echo(f"forgot the MQTT session of {settings.mqtt_client_id}")
        return
    _start_metrics(settings.metrics_port)
    run_bridge(settings)


@main.command()
def stream() -> None:
    """faust-streaming worker: per-area detectors over meterwatch.readings.

    Keeps each area's detector state in a Faust table (survives restarts through its
    changelog) and emits CloudEvents with deterministic ids to meterwatch.events.
    Stop it with SIGTERM; scripts should SIGKILL it after a grace period.
    """
    from meterwatch.settings import StreamSettings
    from stream.app import run_worker

    settings = StreamSettings()
    _start_metrics(settings.metrics_port)
    sys.argv = sys.argv[:1]  # Faust's worker parses argv itself
    run_worker(settings)


@main.command()
def store() -> None:
    """Kafka -> PostgreSQL writer for readings and events.

    COPYs each consumed batch in one transaction together with the consumed offsets, and
    resumes from those offsets after a restart: nothing is lost or stored twice.
    Env: METERWATCH_DATABASE_URL, METERWATCH_KAFKA_BOOTSTRAP, METERWATCH_MAX_POLL_FRAMES.
    """
    import signal

    from meterwatch.settings import StoreSettings
    from storage.service import StoreService

    settings = StoreSettings()
    _start_metrics(settings.metrics_port)
    service = StoreService(settings)
    signal.signal(signal.SIGTERM, lambda *_: service.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: service.stopping.set())
    service.run()


@main.command()
def migrate() -> None:
    """Apply the pending database migrations (a no-op when there are none)."""
    from meterwatch.settings import CommonSettings
    from storage.migrate import connect
    from storage.migrate import migrate as run_migrations

    with connect(CommonSettings().database_url) as conn:
        applied = run_migrations(conn)
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema up to date")


@main.group()
def services() -> None:
    """Install, start, stop and check the local services (Mosquitto, Kafka, PostgreSQL)."""


@services.command("up")
def services_up() -> None:
    """Install what is missing, start what is not running, create topics, migrate."""
    from meterwatch.local_services import bring_up
    from meterwatch.settings import CommonSettings

    created, applied = bring_up(CommonSettings())
    click.echo(f"[meterwatch] topics created: {', '.join(created) or 'none (all present)'}")
    click.echo(f"[meterwatch] migrations applied: {', '.join(applied) or 'none (up to date)'}")


@services.command("down")
def services_down() -> None:
    """Stop the local services (their data is kept)."""
    from meterwatch.local_services import run_services_script

    run_services_script("down")


@services.command("status")
def services_status() -> None:
    """Show whether each local service answers; exit 1 if one does not."""
    from meterwatch.local_services import run_services_script

    run_services_script("status")


def _register_optional_commands() -> None:
    from meterwatch.commands import registered_commands

    for command in registered_commands():
        main.add_command(command)


def run() -> None:
    """Console-script entry point: MeterwatchError becomes a one-line error and exit 1."""
    _register_optional_commands()
    try:
        main(standalone_mode=True)
    except MeterwatchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except ValidationError as exc:  # a METERWATCH_* variable that does not fit its setting
        click.echo(f"error: invalid METERWATCH_* setting: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    run()
