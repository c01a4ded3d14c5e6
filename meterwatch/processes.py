"""Starting and stopping meterwatch services as child processes (demo, tests, benchmarks).

Stopping is always bounded: SIGTERM, a grace period, then SIGKILL. A Faust worker has been
seen hanging for minutes after SIGTERM (DESIGN.md, "Known pitfalls").
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO


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

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "meterwatch.cli", self.service, *self._args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self._env,
            start_new_session=True,
        )
        return self

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
