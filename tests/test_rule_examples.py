"""Every rule's own examples: valid ones are silent, invalid ones fire once at the stated position."""
import re

import libcst as cst
import pytest

from autogradlint.engine import active_rules
from autogradlint.rule import all_rules

from conftest import example_rules, example_version, lint

RULES = list(all_rules().values())
VALID = [pytest.param(rule, ex, id=f"{rule.code}-valid-{i}") for rule in RULES for i, ex in enumerate(rule.valid)]
INVALID = [pytest.param(rule, ex, id=f"{rule.code}-invalid-{i}") for rule in RULES for i, ex in enumerate(rule.invalid)]


@pytest.mark.parametrize("rule,example", VALID)
def test_valid_example_is_silent(rule, example):
    cst.parse_module(example.source)  # an example must be real Python
    assert lint(example.source, example_rules(rule), torch_version=example_version(example)) == []


@pytest.mark.parametrize("rule,example", INVALID)
def test_invalid_example_fires_once_at_its_position(rule, example):
    cst.parse_module(example.source)
    found = [d for d in lint(example.source, example_rules(rule), torch_version=example_version(example))
             if d.code == rule.code or not rule.examples_run_with]
    assert [(d.code, d.line, d.column) for d in found] == [(rule.code, example.line, example.column)]
    assert found[0].message and found[0].end_line >= found[0].line


@pytest.mark.parametrize("rule,example", INVALID)
def test_invalid_example_fires_among_all_rules(rule, example):
    """The batched walk with every rule selected gives the same finding."""
    found = [d for d in lint(example.source, RULES, torch_version=example_version(example)) if d.code == rule.code]
    assert [(d.line, d.column) for d in found] == [(example.line, example.column)]


@pytest.mark.parametrize("rule,example", INVALID)
def test_prefilter_never_skips_an_invalid_example(rule, example):
    assert rule in active_rules(example.source.encode("utf-8"), [rule])


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_is_complete(rule):
    assert re.fullmatch(r"GL\d{3}", rule.code)
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
    assert rule.severity in ("error", "warning", "hint")
    assert rule.message
    assert rule.triggers, "every rule declares the words without which it cannot fire"
    assert len(rule.valid) >= 3 and len(rule.invalid) >= 3
    # GL0xx are about autogradlint's own comments, not torch: they carry no torch evidence
    assert rule.evidence is not None or rule.code.startswith("GL0")
    doc = rule.documentation()
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety"):
        assert section in doc, f"{rule.code} docs lack {section}"


def test_codes_and_names_are_unique():
    names = [r.name for r in RULES]
    assert len(set(names)) == len(names)
