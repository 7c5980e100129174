"""README and rule docs agree with the rules."""

import json

from autogradlint.docs import TABLE_END, TABLE_START, rule_index_text, rules_table
from autogradlint.rule import INDEX_FILE, RuleInfo, all_rules, rule_index

from conftest import ROOT


def test_readme_rule_table_is_generated_from_the_rules():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index(TABLE_START) + len(TABLE_START): readme.index(TABLE_END)]
    assert table.strip() == rules_table().strip(), "run: python -m autogradlint.docs"


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install . && autogradlint check examples/train_bugs.py" in readme
    assert "pip install '.[test]' && pytest" in readme
    assert "pip install '.[test]' && pytest" in (ROOT / ".ci" / "run").read_text()


def test_rule_index_is_current():
    """The stored index must match the rules: a stale one is ignored at run time (every rule imported), so
    this test is what keeps runs lean."""
    assert INDEX_FILE.read_text(encoding="utf-8") == rule_index_text(), "run: python -m autogradlint.docs"
    assert rule_index() == {code: RuleInfo.of(rule) for code, rule in all_rules().items()}
    assert all(info.load() is all_rules()[code] for code, info in rule_index().items())


def test_a_stale_rule_index_is_ignored(tmp_path, monkeypatch):
    import autogradlint.rule as rule_module

    stale = json.loads(INDEX_FILE.read_text(encoding="utf-8"))
    stale["rules"][0]["triggers"] = ["never-in-any-file"]
    path = tmp_path / "rule_index.json"
    path.write_text(json.dumps(stale), encoding="utf-8")
    monkeypatch.setattr(rule_module, "INDEX_FILE", path)
    assert rule_module._stored_index() is not None  # same digest: the file is trusted as it is
    stale["digest"] = "0" * 64
    path.write_text(json.dumps(stale), encoding="utf-8")
    assert rule_module._stored_index() is None
