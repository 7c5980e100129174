"""A fact's value does not depend on which question came first, so a rule's findings do not depend on which
other rules run (``--select``): a fact that a cycle of questions computed with a partial answer is kept only
until that computation ends (``analysis.memo.Memo``, used by grad_state and modules).

- ``test_returned_facts_do_not_depend_on_the_rule_that_asks_first``: GL303 asks about ``scale`` (the first
  function) before GL306 asks about ``main``; ``scale``'s return value used to be computed then, without what
  its call site passes, and cached for good, so ``--select ALL`` missed the finding ``--select GL306`` made.
- ``test_each_rule_finds_alone_what_it_finds_among_all`` (slow): over every rule example and every recall
  case, each rule's findings under ``--select <rule>`` equal its findings under ``--select ALL`` (one CLI run
  per rule, about a minute).
- the last two: ``Memo`` itself, on a cycle of two facts.
"""
import json
import textwrap
from pathlib import Path

import pytest

from autogradlint.rule import all_rules

from conftest import run_autogradlint

CALLER_AFTER_CALLEE = textwrap.dedent("""\
    import torch


    def scale(x):
        y = x * 2
        print(x.grad)
        return y


    def main():
        w = torch.randn(3, requires_grad=True)
        out = scale(w)
        print(out.numpy())


    main()
""")


def _findings(folder, select):
    completed = run_autogradlint("check", "--no-cache", "--select", select, "--output-format", "json", str(folder))
    assert completed.returncode in (0, 1), completed.stderr.decode("utf-8", errors="replace")
    return sorted((Path(f["path"]).name, f["line"], f["column"], f["code"]) for f in json.loads(completed.stdout))


@pytest.mark.parametrize("select", ["GL306", "ALL", "GL303,GL306", "GL306,GL303"])
def test_returned_facts_do_not_depend_on_the_rule_that_asks_first(tmp_path, select):
    (tmp_path / "train.py").write_text(CALLER_AFTER_CALLEE, encoding="utf-8")
    found = [f for f in _findings(tmp_path, select) if f[3] == "GL306"]
    assert found == [("train.py", 13, 11, "GL306")]


def _all_cases():
    """Every rule example and recall case: {file name: source}."""
    import test_recall_gl1_gl2
    import test_recall_gl3
    import test_recall_gl4_gl7

    files = {}
    for rule in all_rules().values():
        for kind, examples in (("valid", rule.valid), ("invalid", rule.invalid)):
            for number, example in enumerate(examples):
                files[f"example_{rule.code}_{kind}_{number}.py"] = example.source
    for name, case in test_recall_gl1_gl2.CASES.items():
        files[f"recall_{name.replace('-', '_')}.py"] = case.source
    for case in test_recall_gl3.CASES + test_recall_gl3.UNREACHED:
        files[f"recall_{case.file_name}"] = case.source
    for kind, cases in (("bad", test_recall_gl4_gl7.BAD), ("ok", test_recall_gl4_gl7.OK)):
        for case in cases:
            files[f"recall_{test_recall_gl4_gl7._file_name(case, kind)}"] = test_recall_gl4_gl7._source(case)
    return files


@pytest.mark.slow
def test_each_rule_finds_alone_what_it_finds_among_all(tmp_path):
    for name, source in _all_cases().items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    among_all = _findings(tmp_path, "ALL")
    differ = {}
    for code in sorted(all_rules()):
        if code == "GL003":
            continue  # unused-noqa judges the other rules' noqa comments: it depends on the selection by design
        alone = _findings(tmp_path, code)
        expected = [f for f in among_all if f[3] == code]
        if alone != expected:
            differ[code] = {"alone only": sorted(set(alone) - set(expected)),
                            "among all only": sorted(set(expected) - set(alone))}
    assert differ == {}


def test_a_value_computed_on_a_fact_in_progress_is_not_cached_for_good():
    """``a`` asks for ``b``, which asks for ``a`` (in progress: the stand-in 0). ``b``'s value leant on it: it
    serves the computation under way (asked twice there, computed once) and is then dropped; ``a``, the
    fact the cycle came back to, is final. Asked later, ``b`` is computed from the final ``a``."""
    from autogradlint.analysis.memo import Memo

    memo, cache, runs = Memo(), {}, []

    def fact(name):
        return memo.computed("fact", name, cache, lambda: compute(name), 0)

    def compute(name):
        runs.append(name)
        if name == "a":
            return fact("b") + fact("b") + 1
        return fact("a") + 10

    assert fact("a") == 21
    assert cache == {"a": 21} and runs == ["a", "b"]
    assert fact("b") == 31
    assert cache == {"a": 21, "b": 31} and runs == ["a", "b", "b"]
    assert fact("a") == 21 and fact("b") == 31 and runs == ["a", "b", "b"]


def test_a_fact_that_leans_on_nothing_in_progress_is_cached_inside_a_cycle():
    """``a`` asks for ``c`` (no cycle) and ``b`` (a cycle back to ``a``): ``c`` is final at once."""
    from autogradlint.analysis.memo import Memo

    memo, cache = Memo(), {}
    compute = {"a": lambda: fact("c") + fact("b"), "b": lambda: fact("a") + 1, "c": lambda: 5}

    def fact(name):
        return memo.computed("fact", name, cache, compute[name], 0)

    assert fact("a") == 6
    assert cache == {"c": 5, "a": 6}
