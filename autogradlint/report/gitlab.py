"""GitLab Code Quality report (https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format):
a JSON list of ``{type, description, check_name, fingerprint, severity, location: {path, lines: {begin, end}}}``,
for ``artifacts:reports:codequality``. (Code Climate's spec, which GitLab reads a subset of, has a location give
``lines`` or ``positions``, not both: lines, as GitLab's own example.)

Severities map to GitLab's scale as error -> major, warning -> minor, hint -> info. The path is relative to
the repository (``CI_PROJECT_DIR`` when set, else the working directory), never prefixed with ``./``. The
fingerprint is the one SARIF carries: stable across runs and unrelated edits, so GitLab can tell a merge
request's new findings from the ones it already had.
"""
from __future__ import annotations

import json
from typing import Sequence

from autogradlint.report.locations import checkout_root, file_position, fingerprints, repository_path
from autogradlint.rule import Diagnostic

SEVERITIES = {"error": "major", "warning": "minor", "hint": "info"}


def render(diagnostics: Sequence[Diagnostic], source_lines=None, unsafe: bool = False, style=None) -> str:
    root = checkout_root("CI_PROJECT_DIR")
    paths = [repository_path(d.path, root)[0] for d in diagnostics]
    issues = []
    for d, path, fingerprint in zip(diagnostics, paths, fingerprints(diagnostics, paths, source_lines)):
        line, _, end_line, _, message = file_position(d)
        end_line = max(end_line, line)
        issues.append({
            "type": "issue",
            "description": f"{d.code} ({d.name}): {message}",
            "check_name": d.code,
            "fingerprint": fingerprint,
            "severity": SEVERITIES.get(d.severity, "minor"),
            "location": {"path": path, "lines": {"begin": line, "end": end_line}},
        })
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
