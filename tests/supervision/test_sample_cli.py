"""``meterwatch sample plan`` through click's CliRunner."""

from __future__ import annotations

from click.testing import CliRunner

from meterwatch.commands.sample import sample


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(sample, ["plan", *args])
    return result.exit_code, result.output


def test_attributes_plan_is_printed() -> None:
    code, out = invoke("--lot-size", "1000", "--aql", "1.0", "--level", "II")
    assert code == 0
    assert out.splitlines() == [
        "attributes plan, normal inspection, level II, AQL 1.0, lot size 1000",
        "code letter: J",
        "n: 80",
        "Ac: 2",
        "Re: 3",
    ]


def test_severity_and_arrows() -> None:
    code, out = invoke("--lot-size", "1000", "--aql", "1", "--severity", "tightened")
    assert code == 0
    assert out.splitlines()[2:5] == ["n: 80", "Ac: 1", "Re: 2"]
    code, out = invoke("--lot-size", "1000", "--aql", "0.25")
    assert code == 0
    assert "n: 50" in out.splitlines()
    assert "note: arrow from J to H: n = 50" in out.splitlines()


def test_variables_plan_is_printed() -> None:
    code, out = invoke("--lot-size", "1000", "--aql", "1.0", "--plan", "variables")
    assert code == 0
    assert out.splitlines()[1:4] == ["code letter: J", "n: 37", "k: 1.865"]
    assert "not ISO 3951-1 table values" in out


def test_bad_input_is_a_usage_error() -> None:
    code, out = invoke("--lot-size", "1000", "--aql", "0.7")
    assert code == 2
    assert "not in the ISO 2859-1 series" in out
    code, out = invoke("--lot-size", "1", "--aql", "1.0")
    assert code == 2
    code, out = invoke("--lot-size", "1000", "--aql", "1.0", "--level", "IV")
    assert code == 2


def test_help_explains_the_plan() -> None:
    result = CliRunner().invoke(sample, ["plan", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())  # click wraps the help text
    assert "accept the lot with at most Ac nonconforming meters" in text
    assert "--severity [normal|tightened|reduced]" in text
    group_help = CliRunner().invoke(sample, ["--help"]).output
    assert "ISO 2859-1" in group_help
