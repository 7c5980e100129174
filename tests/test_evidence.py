"""Every rule's evidence runs in real torch 2.13 and shows what the rule claims; its fix does not."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from autogradlint.fixing import fix_source
from autogradlint.rule import all_rules

RUNNER = Path(__file__).with_name("evidence_runner.py")
RULES = [r for r in all_rules().values() if r.evidence is not None]


@pytest.fixture(scope="session")
def evidence_results():
    items = []
    for rule in RULES:
        items.append({"id": f"{rule.code}-bad", "source": rule.evidence.bad})
        items.append({"id": f"{rule.code}-good", "source": rule.evidence.good})
        fixed = _fixed_bad_program(rule)
        if fixed is not None:
            items.append({"id": f"{rule.code}-fixed", "source": fixed})
    completed = subprocess.run(
        [sys.executable, str(RUNNER)], input=json.dumps(items), capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr
    return {item["id"]: item for item in json.loads(completed.stdout)}


def _fixed_bad_program(rule):
    """The bad evidence program after the rule's own fix, for rules whose fix exists."""
    if not rule.fix_applicability:
        return None
    result = fix_source(rule.evidence.bad.encode("utf-8"), "evidence.py", [rule], unsafe=True)
    return None if result.new_source is None else result.new_source.decode("utf-8")


FIXED = [r for r in RULES if _fixed_bad_program(r) is not None]


@pytest.mark.torch
@pytest.mark.parametrize("rule", FIXED, ids=lambda r: r.code)
def test_fixed_bad_program_no_longer_shows_the_pitfall(rule, evidence_results):
    """Issue 6 (d): the rule's fix applied to its bad program behaves as the corrected program."""
    _check(evidence_results[f"{rule.code}-fixed"], rule.evidence.good_shows)


@pytest.mark.torch
def test_torch_is_the_pinned_version():
    import torch

    assert torch.__version__.split("+")[0] == "2.13.0"


def _check(result, outcome):
    if outcome.raises is not None:
        assert result["raised"] == outcome.raises, result
        if outcome.message is not None:
            assert outcome.message in result["message"], result
    elif outcome.clean:
        assert result["raised"] is None, result
    if outcome.stdout is not None:
        assert result["stdout"].strip() == outcome.stdout, result
    if outcome.warns is not None:
        assert any(outcome.warns in w for w in result["warnings"]), result


@pytest.mark.torch
@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_bad_program_shows_the_pitfall(rule, evidence_results):
    _check(evidence_results[f"{rule.code}-bad"], rule.evidence.bad_shows)


@pytest.mark.torch
@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_good_program_does_not(rule, evidence_results):
    good = evidence_results[f"{rule.code}-good"]
    _check(good, rule.evidence.good_shows)
    bad = evidence_results[f"{rule.code}-bad"]
    # the corrected program must differ in what it shows
    assert (good["raised"], good["stdout"].strip(), good["warnings"]) != (bad["raised"], bad["stdout"].strip(), bad["warnings"])


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_fires_on_its_bad_evidence_only(rule):
    from conftest import lint

    assert [d.code for d in lint(rule.evidence.bad, [rule])] == [rule.code]
    assert lint(rule.evidence.good, [rule]) == []
