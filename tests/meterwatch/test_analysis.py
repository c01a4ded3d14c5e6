"""The offline analysis' orders and scored estimates, as the CLI and the fleet bench read them."""

from meterwatch.analysis import AreaAnalysis, replacement_orders, scored_estimates

ORDER = "meterwatch.meter.out_of_tolerance.v1"


def _estimate(meter: str, end: int) -> dict[str, object]:
    return {"meter": meter, "window": {"start": end - 86_400, "end": end}, "estimate_pct": 1.0}


def test_replacement_orders_are_the_order_events_with_their_block_end() -> None:
    a = AreaAnalysis("u", "a1")
    a.events = [
        {"type": ORDER, "subject": "m1", "data": {"window": {"end": 172_800}}},
        {"type": "meterwatch.meter.drift_warning.v1", "subject": "m2", "data": {}},
    ]
    b = AreaAnalysis("u", "a2")
    b.events = [{"type": ORDER, "subject": "m3", "data": {"window": {"end": 259_200}}}]
    assert replacement_orders([a, b]) == {"m1": 172_800, "m3": 259_200}
    assert replacement_orders([AreaAnalysis("u", "empty")]) == {}


def test_scored_estimates_carry_their_block_end() -> None:
    a = AreaAnalysis("u", "a1")
    a.estimates = [_estimate("m1", 86_400), _estimate("m1", 172_800)]
    b = AreaAnalysis("u", "a2")
    b.estimates = [_estimate("m2", 86_400)]
    records = scored_estimates([a, b])
    assert [(r["meter"], r["end_ts"]) for r in records] == [
        ("m1", 86_400),
        ("m1", 172_800),
        ("m2", 86_400),
    ]
    assert records[0]["estimate_pct"] == 1.0 and "end_ts" not in a.estimates[0]
