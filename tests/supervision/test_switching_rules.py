"""ISO 2859-1:1999 §9.3 switching between normal, tightened and reduced inspection."""

from __future__ import annotations

import pytest

from supervision.attributes import LotOutcome, SwitchingState, lot_outcome, single_plan
from supervision.errors import SupervisionError

ACCEPT = LotOutcome(accepted=True, ac=1, accepted_one_step_tighter=True)
REJECT = LotOutcome(accepted=False, ac=1, accepted_one_step_tighter=False)


def run(state: SwitchingState, outcomes: list[LotOutcome], **kwargs: bool) -> list[str]:
    statuses: list[str] = []
    for outcome in outcomes:
        state = state.step(outcome, **kwargs)
        statuses.append(state.status)
    return statuses


def test_two_rejections_within_five_lots_tighten() -> None:
    statuses = run(SwitchingState(), [REJECT, ACCEPT, ACCEPT, ACCEPT, REJECT])
    assert statuses == ["normal"] * 4 + ["tightened"]


def test_two_rejections_six_lots_apart_stay_normal() -> None:
    statuses = run(SwitchingState(), [REJECT, ACCEPT, ACCEPT, ACCEPT, ACCEPT, REJECT])
    assert statuses == ["normal"] * 6


def test_five_accepted_on_tightened_return_to_normal() -> None:
    tightened = SwitchingState(status="tightened")
    statuses = run(
        tightened, [ACCEPT, ACCEPT, ACCEPT, ACCEPT, REJECT, ACCEPT, ACCEPT, ACCEPT, ACCEPT, ACCEPT]
    )
    assert statuses == ["tightened"] * 9 + ["normal"]


def test_five_rejections_on_tightened_discontinue_then_resume_tightened() -> None:
    state = SwitchingState(status="tightened")
    for outcome in [REJECT, ACCEPT, REJECT, REJECT, ACCEPT, REJECT]:
        state = state.step(outcome)
    assert state.status == "tightened"
    state = state.step(REJECT)
    assert state.status == "discontinued"
    with pytest.raises(SupervisionError):
        state.step(ACCEPT)
    assert state.resume().status == "tightened"
    with pytest.raises(SupervisionError):
        SwitchingState().resume()


def test_switching_score_with_acceptance_number_two_or_more() -> None:
    plan = single_plan(1000, 1.0)  # J: n=80, Ac=2; one step tighter (AQL 0.65) Ac=1
    one = lot_outcome(plan, 1)
    two = lot_outcome(plan, 2)
    assert one == LotOutcome(accepted=True, ac=2, accepted_one_step_tighter=True)
    assert two == LotOutcome(accepted=True, ac=2, accepted_one_step_tighter=False)
    state = SwitchingState()
    for _ in range(9):
        state = state.step(one)
    assert (state.status, state.switching_score) == ("normal", 27)
    assert state.step(two).switching_score == 0  # accepted, but not one step tighter: reset
    assert state.step(one).status == "reduced"


def test_switching_score_with_acceptance_number_zero_or_one() -> None:
    statuses = run(SwitchingState(), [ACCEPT] * 15)
    assert statuses == ["normal"] * 14 + ["reduced"]
    state = SwitchingState(switching_score=28)
    assert state.step(REJECT).switching_score == 0


def test_reduced_needs_approval_of_the_authority() -> None:
    state = SwitchingState()
    for _ in range(20):
        state = state.step(ACCEPT, reduced_allowed=False)
    assert (state.status, state.switching_score) == ("normal", 40)
    assert state.step(ACCEPT).status == "reduced"


def test_reduced_returns_to_normal_on_rejection_or_irregular_production() -> None:
    reduced = SwitchingState(status="reduced")
    assert reduced.step(ACCEPT).status == "reduced"
    back = reduced.step(REJECT)
    assert (back.status, back.switching_score, back.reason) == (
        "normal",
        0,
        "lot not accepted on reduced",
    )
    assert reduced.step(ACCEPT, production_irregular=True).status == "normal"


def test_lot_outcome_at_the_edges_of_the_plan() -> None:
    plan = single_plan(1000, 1.0)
    assert lot_outcome(plan, 2).accepted
    assert not lot_outcome(plan, 3).accepted
    with pytest.raises(SupervisionError):
        lot_outcome(plan, -1)
    first_column = single_plan(600000, 0.010)
    assert not lot_outcome(first_column, 0).accepted_one_step_tighter
