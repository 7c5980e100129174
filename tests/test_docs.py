"""README and rule docs agree with the rules."""
from pathlib import Path

from gradlint.docs import TABLE_END, TABLE_START, rules_table

from conftest import ROOT


def test_readme_rule_table_is_generated_from_the_rules():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index(TABLE_START) + len(TABLE_START): readme.index(TABLE_END)]
    assert table.strip() == rules_table().strip(), "run: python -m gradlint.docs"


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install . && gradlint check examples/train_bugs.py" in readme
    assert "pip install '.[test]' && pytest" in readme
    assert "pip install '.[test]' && pytest" in (ROOT / ".ci" / "run").read_text()
