"""Rule documentation: ``autogradlint rule`` pages and the README's rule table, from the rules' docstrings.

``python -m autogradlint.docs`` rewrites the table between the README's markers, and the rule index
(autogradlint/rule_index.json: each rule's code, name, triggers and module, which lets a run import only the
rules it uses; it is ignored, and every rule imported, whenever it no longer matches the rules' sources).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Type

from autogradlint.rule import INDEX_FILE, Rule, all_rules, build_rule_index

TABLE_START = "<!-- rules-table:start -->"
TABLE_END = "<!-- rules-table:end -->"


def fix_label(rule: Type[Rule]) -> str:
    return rule.fix_applicability or "none"


def rule_page(rule: Type[Rule]) -> str:
    """What ``autogradlint rule CODE`` prints."""
    default = "on by default" if rule.default else "off by default (select it by code, prefix or ALL)"
    header = f"# {rule.name} ({rule.code})\n\nSeverity: {rule.severity}. Fix: {fix_label(rule)}. {default[0].upper() + default[1:]}.\n\n"
    return header + rule.documentation().rstrip() + "\n"


def default_label(rule: Type[Rule]) -> str:
    """"on" for a rule in the default selection, "off" for one selected only by code, prefix or ALL."""
    return "on" if rule.default else "off"


def rules_table() -> str:
    lines = ["| code | name | severity | fix | default | what it flags |", "|---|---|---|---|---|---|"]
    for rule in all_rules().values():
        summary = rule.summary().replace("|", "\\|")
        lines.append(f"| {rule.code} | {rule.name} | {rule.severity} | {fix_label(rule)} | {default_label(rule)} | {summary} |")
    off = [rule for rule in all_rules().values() if not rule.default]
    if off:
        lines.append("")
        lines.append("Rules marked *off* run only when selected by code, prefix or `ALL` "
                     "(`--extend-select GL309`, `select = [\"ALL\"]`):")
        lines.append("")
        lines.extend(f"- {rule.code} ({rule.name}): {rule.off_by_default}." for rule in off)
    return "\n".join(lines) + "\n"


def replace_table(readme: str) -> str:
    start = readme.index(TABLE_START) + len(TABLE_START)
    end = readme.index(TABLE_END)
    return readme[:start] + "\n" + rules_table() + readme[end:]


def rule_index_text() -> str:
    return json.dumps(build_rule_index(), indent=1) + "\n"


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("README.md")
    path.write_text(replace_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    INDEX_FILE.write_text(rule_index_text(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
