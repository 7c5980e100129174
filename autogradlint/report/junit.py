"""JUnit XML, as CI systems read test reports (GitLab ``artifacts:reports:junit``, Jenkins' junit step,
Azure's PublishTestResults): ``<testsuites>`` holding one ``<testsuite>`` a file with findings, one
``<testcase>`` a finding with a ``<failure>`` (message, type, and the concise line as text). A clean run is
one passing test case, as ruff's junit format does, so the report is never empty.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import groupby
from typing import Sequence

from autogradlint.report.locations import file_position
from autogradlint.rule import Diagnostic

# characters XML 1.0 cannot hold, not even escaped (a file name or source text could carry them)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _classname(path: str) -> str:
    """``pkg/train.py`` -> ``pkg.train``, the dotted name JUnit viewers group test cases by."""
    stem = path[:-3] if path.endswith(".py") else path
    return _xml(stem.replace("\\", "/").strip("/").replace("/", "."))


def render(diagnostics: Sequence[Diagnostic], source_lines=None, unsafe: bool = False, style=None) -> str:
    count = max(len(diagnostics), 1)
    root = ET.Element("testsuites", name="autogradlint", tests=str(count), failures=str(len(diagnostics)), errors="0")
    if not diagnostics:
        suite = ET.SubElement(root, "testsuite", name="autogradlint", tests="1", failures="0", errors="0", skipped="0")
        ET.SubElement(suite, "testcase", name="No errors found", classname="autogradlint")
    for path, group in groupby(diagnostics, key=lambda d: d.path):
        findings = list(group)
        suite = ET.SubElement(root, "testsuite", name=_xml(path), tests=str(len(findings)),
                              failures=str(len(findings)), errors="0", skipped="0")
        for d in findings:
            line, column, _, _, message = file_position(d)
            case = ET.SubElement(suite, "testcase", name=f"{d.code} {d.name} at line {line}, column {column}",
                                 classname=_classname(path), file=_xml(path), line=str(line))
            failure = ET.SubElement(case, "failure", message=_xml(message), type=f"{d.code} {d.severity}")
            failure.text = _xml(f"{d.path}:{line}:{column}: {d.code} {d.severity} {message}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
