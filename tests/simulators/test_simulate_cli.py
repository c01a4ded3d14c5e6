"""``meterwatch simulate fleet``: same seed, same files; another seed, other data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from meterwatch.commands.simulate import simulate

SMALL = ["--utilities", "1", "--areas", "2", "--meters", "20", "--days", "3"]


def _digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    runner = CliRunner()
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        result = runner.invoke(
            simulate, ["fleet", "--out", str(tmp_path / name), "--seed", seed, *SMALL]
        )
        assert result.exit_code == 0, result.output
    a, b, c = (_digests(tmp_path / n) for n in "abc")
    assert set(a) == {"registry.csv", "devices.csv", "readings.csv", "truth_errors.csv",
                      "truth_faults.csv", "truth_areas.csv", "run.json"}  # fmt: skip
    assert a == b
    assert a["readings.csv"] != c["readings.csv"]
    meta = json.loads((tmp_path / "a" / "run.json").read_text())
    lines = (tmp_path / "a" / "readings.csv").read_text().count("\n") - 1
    assert meta["readings"] == lines and meta["meters"] == 42
    assert meta["start"] == "2026-09-01T00:00:00Z" and meta["end"] == "2026-09-04T00:00:00Z"


def test_no_faults_no_errors_and_no_readings(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        simulate,
        ["fleet", "--out", str(tmp_path), "--no-faults", "--no-errors", "--no-readings", *SMALL],
    )
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "readings.csv").exists()
    faults = (tmp_path / "truth_faults.csv").read_text().splitlines()
    assert faults == ["fault_id,meter_id,utility,area,kind,start_ts,end_ts,magnitude,unit"]
    errors = (tmp_path / "truth_errors.csv").read_text().splitlines()[1:]
    assert errors and {line.split(",")[2] for line in errors} == {"0.0000"}


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        simulate, ["fleet", "--out", str(tmp_path), "--interval-minutes", "7"]
    )
    assert result.exit_code == 2 and "multiple of 15" in result.output
    future = CliRunner().invoke(
        simulate, ["mqtt", "--out", str(tmp_path), "--start", "2099-01-01T00:00:00Z"]
    )
    assert future.exit_code == 2 and "in the past" in future.output
