from __future__ import annotations

from pathlib import Path

import numpy as np

from meterwatch.scoring import Truth, oracle_lines, score

DAY_S = 86_400
DAY0 = 20_000  # epoch day


def _truth(tmp_path: Path) -> Truth:
    errors = tmp_path / "truth_errors.csv"
    rows = ["meter_id,date,error_pct,mpe_pct,drift,lot_defect"]
    for day in range(3):
        date = str(np.datetime64(DAY0 + day, "D"))
        rows += [f"a,{date},3.0,2.0,none,0", f"b,{date},0.1,2.0,none,0",
                 f"c,{date},0.2,2.0,none,0", f"d,{date},{1.0 * day},2.0,linear,0"]  # fmt: skip
    errors.write_text("\n".join(rows) + "\n")
    faults = tmp_path / "truth_faults.csv"
    faults.write_text(
        "fault_id,meter_id,utility,area,kind,start_ts,end_ts,magnitude,unit\n"
        "F1,c,u,a1,outage,2024-10-04T00:00:00Z,2024-10-05T00:00:00Z,30,h\n"
    )
    return Truth.load(errors, None, faults)


def test_orders_are_scored_and_false_orders_carry_their_cause(tmp_path: Path) -> None:
    truth = _truth(tmp_path)
    end = (DAY0 + 3) * DAY_S  # estimates of the last day
    estimates = [
        {"meter": m, "end_ts": end, "estimate_pct": e, "uncertainty_pct": 0.5,
         "identifiable": True, "decision": d}
        for m, e, d in [("a", 3.2, "out_of_tolerance"), ("b", 0.0, "out_of_tolerance"),
                        ("c", 4.0, "out_of_tolerance"), ("d", 1.0, "inconclusive")]
    ]  # fmt: skip
    result = score(truth, estimates, {"a": end, "b": end, "c": end})
    assert (result.truly_out, result.orders, result.correct_orders) == (1, 3, 1)
    assert result.recall == 1.0
    assert result.healthy == 2  # b and c; d drifts past MPE/2
    assert result.false_replacement_rate == 1.0
    assert result.false_order_causes == (("no fault of its own", 1), ("outage", 1))
    assert any(line.endswith("no fault of its own 1, outage 1") for line in result.lines())


def test_oracle_coverage_counts_its_healthy_flags(tmp_path: Path) -> None:
    truth = _truth(tmp_path)
    lines = oracle_lines(truth, {"a": 0}, {"a", "b", "d", "zz"}, "test oracle")
    assert lines == [
        "oracle (test oracle) decides 3 meters out of tolerance at the end, 1 of them healthy",
        "orders cover          1 of them (33.3 %; target >= 95 %)",
        "of them drifting      1 (true error moved by over MPE/4 during the run): orders cover "
        "0; 1 of the other 2",
    ]
    confirmed = oracle_lines(truth, {"a": 0}, {"a", "b"}, "test oracle", confirmed=({"b"}, 10))
    assert confirmed[-1] == (
        "oracle orders         1 meters (1 healthy) after 10 days out of tolerance, none "
        "conforming between (the stream's confirmation, without its quiet-balance condition); "
        "orders cover 0 (0.0 %)"
    )
