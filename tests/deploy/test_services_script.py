"""deploy/local/services.sh: argument and settings checks, and its view of the real services."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "local" / "services.sh"


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_help_lists_the_commands() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for command in ("up", "down", "status", "reset"):
        assert f"services.sh {command}" in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = _run("restart")
    assert result.returncode == 2
    assert "services.sh up" in result.stderr


@pytest.mark.parametrize("port", ["abc", "0", "65536", "-1"])
def test_a_port_that_is_not_a_port_is_refused(port: str) -> None:
    result = _run("status", env={"METERWATCH_PG_PORT": port})
    assert result.returncode == 1
    expected = f"METERWATCH_PG_PORT must be a TCP port number (1-65535), got '{port}'"
    assert f"[services] error: {expected}" in result.stderr


def test_two_services_on_one_port_are_refused() -> None:
    result = _run("status", env={"METERWATCH_KAFKA_PORT": "4000", "METERWATCH_PG_PORT": "4000"})
    assert result.returncode == 1
    assert "the four ports must differ" in result.stderr


def test_status_of_services_that_do_not_run_fails_and_names_each(tmp_path: Path) -> None:
    mqtt, kafka, controller, pg = _free_ports(4)
    env = {
        "METERWATCH_STATE_DIR": str(tmp_path / "state"),
        "METERWATCH_MQTT_PORT": str(mqtt),
        "METERWATCH_KAFKA_PORT": str(kafka),
        "METERWATCH_KAFKA_CONTROLLER_PORT": str(controller),
        "METERWATCH_PG_PORT": str(pg),
    }
    result = _run("status", env=env)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"[services] mosquitto  DOWN  mqtt://127.0.0.1:{mqtt}",
        f"[services] kafka      DOWN  127.0.0.1:{kafka}",
        f"[services] postgres   DOWN  postgresql://meterwatch@127.0.0.1:{pg}/meterwatch",
    ]


@pytest.mark.integration
def test_status_of_the_running_services_passes() -> None:
    result = _run("status")
    assert result.returncode == 0, result.stdout + result.stderr
    states = [line.split()[1:3] for line in result.stdout.splitlines()]
    assert states == [["mosquitto", "up"], ["kafka", "up"], ["postgres", "up"]]


@pytest.mark.integration
def test_up_on_running_services_starts_nothing() -> None:
    result = _run("up")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert not [line for line in lines if "starting" in line or "formatting" in line]
    assert lines[-1].startswith("[services] all services answer")
