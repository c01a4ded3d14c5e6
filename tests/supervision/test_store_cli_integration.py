"""Supervision on the store through the CLI: registry, lots, draw, inspections, verdicts."""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from meterwatch.cli import main
from meterwatch.commands import registered_commands
from meterwatch.settings import CommonSettings
from storage.registry import REGISTRY_COLUMNS
from supervision.sampling import simple_random

pytestmark = pytest.mark.integration

RESULT_HEADER = (
    "meter_id,inspected_on,measured_error_pct,expanded_uncertainty_pct,inspector,equipment\n"
)


@pytest.fixture
def cli(services: CommonSettings) -> CliRunner:
    for command in registered_commands():
        main.add_command(command)
    return CliRunner(env={"METERWATCH_DATABASE_URL": services.database_url})


def run(cli: CliRunner, *args: str, ok: bool = True) -> str:
    result = cli.invoke(main, list(args))
    assert (result.exit_code == 0) == ok, result.output
    return result.output


@pytest.fixture
def lot(cli: CliRunner, tmp_path: Path, run_id: str, meter_base: int) -> tuple[str, list[str]]:
    """One utility with a lot of 100 class 2 electricity meters; its id and meter ids."""
    meters = [f"{meter_base + i:012d}" for i in range(100)]
    path = tmp_path / "registry.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(REGISTRY_COLUMNS)
        for i, m in enumerate(meters):
            area = i % 4
            writer.writerow(
                [m, f"sup{run_id}", "Sup", f"area-{area}", f"Area {area}", "electricity", "2.0",
                 "Acme", "X1", "B7", "2020-05-01", "0", ""]
            )  # fmt: skip
    assert "imported 100 meters in 4 areas of 1 utilities; 1 lots formed" in run(
        cli, "registry", "import", str(path)
    )
    listed = [line.split("\t") for line in run(cli, "lots", "list").splitlines()]
    mine = [row for row in listed if row[1] == f"sup{run_id}"]
    assert [(row[2], row[3], row[4]) for row in mine] == [("100", "0", "-")]
    return mine[0][0], meters


def draw(cli: CliRunner, lot_id: str, out: Path, seed: int, *extra: str) -> list[dict[str, str]]:
    run(cli, "sample", "draw", "--lot", lot_id, "--plan", "attributes", "--aql", "2.5",
        "--level", "II", "--seed", str(seed), "--out", str(out), *extra)  # fmt: skip
    with out.open() as handle:
        return list(csv.DictReader(handle))


def results(path: Path, sample: list[dict[str, str]], day: str, bad: int) -> Path:
    """Inspection results: the first ``bad`` meters at 2.5 % (MPE is 2 %), the rest at 0.4 %."""
    lines = [f"{r['meter_id']},{day},{2.5 if i < bad else 0.4},0.3,Inspector,Ref-1\n"
             for i, r in enumerate(sample)]  # fmt: skip
    path.write_text(RESULT_HEADER + "".join(lines))
    return path


def test_draw_is_recorded_and_reproducible_from_its_seed(
    cli: CliRunner, db: psycopg.Connection, lot: tuple[str, list[str]], tmp_path: Path
) -> None:
    lot_id, meters = lot
    first = draw(cli, lot_id, tmp_path / "a.csv", 11)
    again = draw(cli, lot_id, tmp_path / "b.csv", 11)
    other = draw(cli, lot_id, tmp_path / "c.csv", 12)
    ids = [r["meter_id"] for r in first]
    assert len(ids) == 20  # lot 100, level II: code letter F, n = 20 at AQL 2.5
    assert ids == [r["meter_id"] for r in again] != [r["meter_id"] for r in other]
    assert ids == list(simple_random(meters, 20, 11).selected_ids)
    plans = db.execute(
        "SELECT p.seed, p.method, p.code_letter, p.sample_size, p.ac, p.re, count(s.meter_id) "
        "FROM sampling_plan p JOIN sample s USING (plan_id) WHERE p.lot_id = %s "
        "GROUP BY p.plan_id ORDER BY p.plan_id",
        (lot_id,),
    ).fetchall()
    assert plans == [(s, "simple_random", "F", 20, 1, 2, 20) for s in (11, 11, 12)]


def test_verdict_at_the_acceptance_and_rejection_numbers(
    cli: CliRunner, db: psycopg.Connection, lot: tuple[str, list[str]], tmp_path: Path
) -> None:
    lot_id, _ = lot
    sample = draw(cli, lot_id, tmp_path / "s1.csv", 5)
    run(cli, "inspect", "import", str(results(tmp_path / "r1.csv", sample[:10], "2026-10-01", 1)))
    assert "no decision reached" in run(cli, "verdict", "--lot", lot_id, ok=False)
    run(cli, "inspect", "import", str(results(tmp_path / "r2.csv", sample[10:], "2026-10-01", 0)))
    out = run(cli, "verdict", "--lot", lot_id)  # 1 nonconforming = Ac
    assert f"lot {lot_id}: ACCEPT" in out and "inspected 20, nonconforming 1" in out
    assert "Ac 1, Re 2" in out and "Horvitz-Thompson): 0.0500" in out

    sample = draw(cli, lot_id, tmp_path / "s2.csv", 6)
    run(cli, "inspect", "import", str(results(tmp_path / "r3.csv", sample, "2026-10-02", 2)))
    out = run(cli, "verdict", "--lot", lot_id)  # 2 nonconforming = Re
    assert f"lot {lot_id}: REJECT - replace the whole lot" in out
    verdicts = db.execute(
        "SELECT v.decision, v.nonconforming, a.kind FROM lot_verdict v "
        "JOIN audit_log a ON a.kind = 'lot_verdict' AND a.ref = v.verdict_id::text "
        "WHERE v.lot_id = %s ORDER BY v.verdict_id",
        (lot_id,),
    ).fetchall()
    assert verdicts == [("accept", 1, "lot_verdict"), ("reject", 2, "lot_verdict")]
    assert "reject" in run(cli, "lots", "list")
    assert "chain intact" in run(cli, "audit", "verify")


def test_risk_weighted_draw_and_field_check_of_the_estimator(
    cli: CliRunner, db: psycopg.Connection, lot: tuple[str, list[str]], tmp_path: Path
) -> None:
    lot_id, meters = lot
    db.execute(
        "SELECT meterwatch_ensure_time_partitions('error_estimate', '1998-06-01', '1998-06-01', 1)"
    )
    for i, m in enumerate(meters):  # ten meters look bad to the detectors
        db.execute(
            "INSERT INTO error_estimate VALUES (%s, '1998-06-01 12:00+00', %s, 'area-0', %s, 0.3, "
            "true, 'ok', 'gls')",
            (m, lot_id.split("/")[0], 2.4 if i < 10 else 0.2),
        )
    sample = draw(cli, lot_id, tmp_path / "s.csv", 9, "--risk-weighted")
    probabilities = {r["meter_id"]: float(r["inclusion_probability"]) for r in sample}
    assert max(probabilities.values()) > 3 * min(probabilities.values())
    picked_risky = sum(m in probabilities for m in meters[:10])
    assert picked_risky >= 5  # 10 risky meters of 100, 20 drawn: a uniform draw expects 2
    results(tmp_path / "r.csv", sample, "2026-10-03", 0)
    run(cli, "inspect", "import", str(tmp_path / "r.csv"))
    out = run(cli, "verdict", "--lot", lot_id)
    assert "field check of the estimator on 20 meters" in out
    assert "nonconforming fraction (Horvitz-Thompson): 0.0000" in out


def test_inspection_import_is_all_or_nothing(
    cli: CliRunner, db: psycopg.Connection, lot: tuple[str, list[str]], tmp_path: Path
) -> None:
    _, meters = lot
    path = tmp_path / "r.csv"
    path.write_text(
        RESULT_HEADER
        + f"{meters[0]},2026-10-01,0.1,0.2,I,E\n"
        + "999999999999,2026-10-01,0.1,0.2,I,E\n"  # not registered
        + f"{meters[1]},2026-10-01,abc,0.2,I,E\n"  # not a number
        + f"{meters[2]},2026-10-01,0.1,-1,I,E\n"  # negative uncertainty
        + f"{meters[0]},2026-10-01,0.3,0.2,I,E\n"  # the same meter and day twice
        + f"{meters[3]},2026-10-01,0.1,0.2,,E\n"  # no inspector
    )
    out = run(cli, "inspect", "import", str(path), ok=False)
    for line in (4, 5, 6, 7):
        assert f"line {line}:" in out
    assert "line 3:" not in out  # the registry check runs once the file itself is clean
    count = db.execute("SELECT count(*) FROM inspection WHERE meter_id = ANY(%s)", (meters,))
    assert count.fetchone() == (0,)
    path.write_text(RESULT_HEADER + "999999999999,2026-10-01,0.1,0.2,I,E\n")
    assert "line 2: meter 999999999999 is not registered" in run(
        cli, "inspect", "import", str(path), ok=False
    )


def test_rollup_and_retention_commands_run(cli: CliRunner) -> None:
    assert run(cli, "rollup", "refresh").startswith("refreshed ")
    out = run(cli, "retention", "apply", "--older-than", "36500")  # nothing is 100 years old
    assert out.splitlines() == [
        "reading: dropped 0 partition(s)",
        "error_estimate: dropped 0 partition(s)",
    ]


def test_variables_plan_verdict_on_the_measured_errors(
    cli: CliRunner, lot: tuple[str, list[str]], tmp_path: Path
) -> None:
    lot_id, _ = lot
    out = tmp_path / "s.csv"
    run(cli, "sample", "draw", "--lot", lot_id, "--plan", "variables", "--aql", "2.5",
        "--seed", "4", "--out", str(out))  # fmt: skip
    with out.open() as handle:
        sample = list(csv.DictReader(handle))
    errors = [0.1 * (i % 5) - 0.2 for i in range(len(sample))]  # mean 0, s ~0.14, MPE 2
    path = tmp_path / "r.csv"
    path.write_text(RESULT_HEADER + "".join(
        f"{r['meter_id']},2026-10-04,{e:.2f},0.3,I,E\n" for r, e in zip(sample, errors, strict=True)
    ))  # fmt: skip
    run(cli, "inspect", "import", str(path))
    verdict = run(cli, "verdict", "--lot", lot_id)
    assert f"lot {lot_id}: ACCEPT" in verdict and ", variables, MPE 2 %" in verdict
    assert "control separate" in verdict
