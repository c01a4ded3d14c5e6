"""Starting and stopping meterwatch services as child processes (demo, tests, benchmarks).

Stopping is always bounded: SIGTERM, a grace period, then SIGKILL. A Faust worker has been
seen hanging for minutes after SIGTERM (DESIGN.md, "Known pitfalls").
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from meterwatch.errors import ServiceError


class ServiceProcess:
    """One ``meterwatch <service>`` child process with its log file."""

    def __init__(
        self, service: str, log_path: Path, env: dict[str, str] | None = None, *args: str
    ) -> None:
        self.service = service
        self.log_path = log_path
        self._env = {**os.environ, **(env or {})}
        self._args = args
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log_start = self.log_path.stat().st_size
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "meterwatch.cli", self.service, *self._args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self._env,
            start_new_session=True,
        )
        return self

    def wait_for_log(self, text: str, timeout_s: float = 60.0) -> None:
        """Block until ``text`` appears in this run's log; raise if the process dies first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text.encode() in self.log_path.read_bytes()[self._log_start :]:
                return
            if not self.running:
                raise ServiceError(
                    f"{self.service} exited ({self.returncode}); see {self.log_path}"
                )
            time.sleep(0.1)
        raise ServiceError(f"{self.service}: no {text!r} within {timeout_s}s; see {self.log_path}")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def kill(self) -> None:
        """SIGKILL the whole process group at once (crash tests)."""
        if self._proc is not None and self.running:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()

    def stop(self, grace_s: float = 15.0) -> int | None:
        """SIGTERM, wait ``grace_s``, then SIGKILL; return the exit code."""
        if self._proc is None:
            return None
        if self.running:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        if self._log is not None:
            self._log.close()
        return self._proc.returncode


class LocalPipeline:
    """ingest, stream and store as child processes, each restartable (demo, crash tests).

    The bridge uses the configured MQTT client id: a bridge started under another id would
    leave a persistent session behind that keeps its share of the shared subscription.
    """

    def __init__(self, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.ingest = ServiceProcess("ingest", log_dir / "ingest.log", env)
        self.stream = ServiceProcess("stream", log_dir / "stream.log", env)
        self.store = ServiceProcess("store", log_dir / "store.log", env)

    def start_ingest(self) -> None:
        self.ingest.start().wait_for_log("bridge running")

    def start_store(self) -> None:
        self.store.start().wait_for_log("resuming from database offsets")

    def start_stream(self) -> None:
        self.stream.start().wait_for_log("Worker]: Ready", timeout_s=120)

    def start(self) -> LocalPipeline:
        self.start_store()
        self.start_stream()
        self.start_ingest()
        return self

    def stop(self, grace_s: float = 15.0) -> None:
        for process in (self.ingest, self.stream, self.store):
            process.stop(grace_s)
