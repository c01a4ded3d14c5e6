from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from meterwatch.commands.score_series import score_series
from meterwatch.errors import DecodeError
from meterwatch.series_io import parse_timestamp, read_series


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def spiky_rows(n: int = 300, *, iso: bool = False) -> tuple[list[str], list[int]]:
    rng = np.random.default_rng(5)
    t = 1_700_000_000 + np.cumsum(rng.integers(30, 600, n))  # irregular sampling
    x = 50 + rng.normal(0, 1, n)
    spikes = [120, 250]
    x[spikes] += [12.0, -12.0]
    rows = ["timestamp,value"]
    for ti, xi in zip(t.tolist(), x.tolist(), strict=True):
        stamp = np.datetime_as_string(np.datetime64(ti, "s")) + "Z" if iso else str(ti)
        rows.append(f"{stamp},{xi:.4f}")
    return rows, spikes


def read_out(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("iso", [False, True])
def test_scores_spikes_and_keeps_rows(tmp_path: Path, iso: bool) -> None:
    rows, spikes = spiky_rows(iso=iso)
    src = write_csv(tmp_path / "in.csv", rows)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(score_series, [str(src), str(out)])
    assert result.exit_code == 0, result.output
    got = read_out(out)
    assert list(got[0]) == ["timestamp", "value", "anomaly_score"]
    assert [f"{r['timestamp']},{r['value']}" for r in got] == rows[1:]
    scores = np.array([float(r["anomaly_score"]) for r in got])
    assert ((scores >= 0) & (scores <= 1)).all()
    assert np.flatnonzero(scores > 0.9999).tolist() == spikes


def test_unsorted_input_is_scored_in_time_order_and_written_in_input_order(
    tmp_path: Path,
) -> None:
    rows, _ = spiky_rows()
    shuffled = [rows[0], *reversed(rows[1:])]
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    runner = CliRunner()
    runner.invoke(score_series, [str(write_csv(tmp_path / "in.csv", rows)), str(a)])
    runner.invoke(score_series, [str(write_csv(tmp_path / "rev.csv", shuffled)), str(b)])
    assert list(reversed(read_out(b))) == read_out(a)


def test_missing_values_get_empty_scores_and_extra_columns_are_ignored(tmp_path: Path) -> None:
    rows = ["Value,meter,Timestamp"] + [f"{v},m1,{i * 60}" for i, v in enumerate(range(20))]
    rows[5] = ",m1,240"
    src = write_csv(tmp_path / "in.csv", rows)
    result = CliRunner().invoke(score_series, [str(src), "-"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "timestamp,value,anomaly_score"
    assert lines[5] == "240,,"
    assert lines[1] == "0,0,0.0"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["timestamp,value", "0,1", "yesterday,2"], "line 3: bad timestamp 'yesterday'"),
        (["timestamp,value", "0,1", "", "60,abc"], "line 4: bad value 'abc'"),
        (["timestamp,value", "0,1,2"], "line 2: expected 2 fields"),
        (["time,value", "0,1"], "line 1: the header must name"),
        (["timestamp,value", "0,inf"], "line 2: bad value 'inf'"),
        ([""], "empty file"),
    ],
)
def test_bad_rows_name_the_line(tmp_path: Path, rows: list[str], message: str) -> None:
    src = write_csv(tmp_path / "in.csv", rows)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(score_series, [str(src), str(out)])
    assert result.exit_code == 1
    assert message in result.output
    assert not out.exists()  # nothing half-written


def test_help_explains_columns() -> None:
    result = CliRunner().invoke(score_series, ["--help"])
    assert result.exit_code == 0
    assert "timestamp,value,anomaly_score" in result.output
    assert "ISO-8601" in result.output


def test_options_change_the_scoring(tmp_path: Path) -> None:
    rows, _ = spiky_rows()
    src = write_csv(tmp_path / "in.csv", rows)
    default, custom = tmp_path / "d.csv", tmp_path / "c.csv"
    CliRunner().invoke(score_series, [str(src), str(default)])
    CliRunner().invoke(score_series, ["--warmup", "50", "--span", "3", str(src), str(custom)])
    d, c = read_out(default), read_out(custom)
    assert all(r["anomaly_score"] == "0.0" for r in c[:50])
    assert any(r["anomaly_score"] != "0.0" for r in d[:50])


def test_parse_timestamp_forms() -> None:
    assert parse_timestamp("1700000000") == 1_700_000_000.0
    assert parse_timestamp(" 1700000000.5 ") == 1_700_000_000.5
    assert parse_timestamp("2023-11-14T22:13:20Z") == 1_700_000_000.0
    assert parse_timestamp("2023-11-14 23:13:20+01:00") == 1_700_000_000.0
    assert parse_timestamp("2023-11-14T22:13:20") == 1_700_000_000.0  # naive = UTC
    with pytest.raises(ValueError):
        parse_timestamp("nan")


def test_read_series_reports_name() -> None:
    with pytest.raises(DecodeError, match=r"feed\.csv line 2"):
        read_series(io.StringIO("timestamp,value\nx,1\n"), name="feed.csv")


def test_utf8_bom_header_is_accepted(tmp_path: Path) -> None:
    src = tmp_path / "bom.csv"
    src.write_bytes(b"\xef\xbb\xbftimestamp,value\n0,1\n60,2\n")
    result = CliRunner().invoke(score_series, [str(src), "-"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["timestamp,value,anomaly_score", "0,1,0.0", "60,2,0.0"]
