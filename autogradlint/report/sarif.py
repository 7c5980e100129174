"""SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/), for GitHub code scanning and other viewers.

One run. ``tool.driver.rules`` describes every rule (and the engine's own codes) with its documentation as
help (text and markdown) and its severity as ``defaultConfiguration.level``; each result names its rule by
id and index, its level, message, region (1-based, columns in Unicode code points as ``columnKind`` says),
the rule's fix when it has one, and a fingerprint that survives unrelated edits (``partialFingerprints``).
Paths are relative to ``%SRCROOT%``: the GitHub checkout (``GITHUB_WORKSPACE``) when set, else the working
directory; ``originalUriBaseIds`` says which directory that was.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Sequence
from urllib.parse import quote

from autogradlint import __version__
from autogradlint.report.locations import cell_of, checkout_root, file_position, fingerprints, repository_path
from autogradlint.rule import FILE_TOO_LARGE, INTERNAL_ERROR, SYNTAX_ERROR, Diagnostic, all_rules

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "autogradlint/v1"
LEVELS = {"error": "error", "warning": "warning", "hint": "note"}
# GitHub's properties.problem.severity (with precision, it decides which alerts are shown by default)
PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "hint": "recommendation"}

_ENGINE_RULES = (
    (INTERNAL_ERROR, "autogradlint itself failed on this file (a rule raised, or the file took longer than "
                     "--file-timeout). The other rules' findings are still reported. Please report this."),
    (SYNTAX_ERROR, "The file does not parse as Python, so no rule could check it."),
    (FILE_TOO_LARGE, "The file is larger than max-file-size, so it was not read further nor checked."),
)


def _title(name: str) -> str:
    words = name.replace("-", " ")
    return words[:1].upper() + words[1:]


def _descriptors() -> List[dict]:
    descriptors = []
    for (code, name), text in _ENGINE_RULES:
        descriptors.append({
            "id": code,
            "name": name,
            "shortDescription": {"text": _title(name)},
            "fullDescription": {"text": text},
            "help": {"text": text, "markdown": text},
            "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["autogradlint"], "precision": "very-high", "problem.severity": "error"},
        })
    for rule in all_rules().values():
        docs = rule.documentation().strip()
        fix = rule.fix_applicability or "none"
        header = f"{rule.code} {rule.name}: severity {rule.severity}, fix {fix}."
        descriptors.append({
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": _title(rule.name)},
            "fullDescription": {"text": rule.summary()},
            "help": {"text": f"{header}\n\n{docs}\n", "markdown": f"**{header}**\n\n{docs}\n"},
            "defaultConfiguration": {"level": LEVELS.get(rule.severity, "warning")},
            "properties": {
                "tags": ["pytorch", "autograd", "correctness"],
                # the rules stay silent unless the analysis is sure (false positives are the worst bug)
                "precision": "high",
                "problem.severity": PROBLEM_SEVERITY.get(rule.severity, "warning"),
            },
        })
    return descriptors


def _artifact(path: str, relative: bool) -> dict:
    if relative:
        return {"uri": quote(path, safe="/"), "uriBaseId": SRCROOT}
    return {"uri": Path(path).as_uri()}


def _region(line: int, column: int, end_line: int, end_column: int) -> dict:
    line, column = max(line, 1), max(column, 1)
    end_line = max(end_line, line)
    end_column = max(end_column, 1) if end_line > line else max(end_column, column)
    return {"startLine": line, "startColumn": column, "endLine": end_line, "endColumn": end_column}


def _fix(d: Diagnostic, location: dict) -> dict:
    assert d.fix is not None
    if d.fix.applicability == "safe":
        description = f"{d.code} safe fix (autogradlint check --fix)"
    else:
        description = f"{d.code} unsafe fix: it may change behaviour (autogradlint check --fix --unsafe-fixes)"
    return {
        "description": {"text": description},
        "artifactChanges": [{
            "artifactLocation": location,
            "replacements": [
                {"deletedRegion": _region(e.line, e.column, e.end_line, e.end_column), "insertedContent": {"text": e.content}}
                for e in d.fix.edits
            ],
        }],
        "properties": {"applicability": d.fix.applicability},
    }


def render(diagnostics: Sequence[Diagnostic], source_lines=None, unsafe: bool = False, style=None) -> str:
    root = checkout_root("GITHUB_WORKSPACE")
    rules = _descriptors()
    index: Dict[str, int] = {r["id"]: i for i, r in enumerate(rules)}
    placed = [repository_path(d.path, root) for d in diagnostics]
    prints = fingerprints(diagnostics, [p for p, _ in placed], source_lines)
    results = []
    for d, (path, relative), fingerprint in zip(diagnostics, placed, prints):
        location = _artifact(path, relative)
        line, column, end_line, end_column, message = file_position(d)
        result = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": LEVELS.get(d.severity, "warning"),
            "message": {"text": message},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": location,
                    "region": _region(line, column, end_line, end_column),
                },
            }],
            "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
        }
        if d.fix is not None and d.fix.edits and cell_of(d) is None:  # a cell's edits are not in the file's lines
            result["fixes"] = [_fix(d, location)]
        results.append(result)
    run = {
        "tool": {"driver": {
            "name": "autogradlint",
            "version": __version__,
            "semanticVersion": __version__,
            "rules": rules,
        }},
        "originalUriBaseIds": {SRCROOT: {"uri": Path(root).as_uri().rstrip("/") + "/"}},
        "columnKind": "unicodeCodePoints",
        "invocations": [{"executionSuccessful": not any(d.code == INTERNAL_ERROR[0] for d in diagnostics)}],
        "results": results,
    }
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2, ensure_ascii=False) + "\n"
