"""The CI formats, run through the real CLI and checked against what their consumers read: SARIF against the
official schema (and applied as a consumer applies its fixes), GitHub workflow commands as the Actions runner
parses them, GitLab Code Quality against GitLab's documented fields, JUnit through an XML parser, pylint lines.
"""
import json
import re
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import jsonschema
import pytest

from autogradlint.report import github as github_format
from autogradlint.rule import ENGINE_CODES, Diagnostic, all_rules

DATA = Path(__file__).resolve().parent / "data"

BAD = textwrap.dedent(
    """\
    import torch
    from torch.utils.checkpoint import checkpoint
    model = torch.nn.Linear(2, 2)
    for p in model.parameters():
        p.require_grad = False
    model.eval
    with torch.no_grad:
        pass
    y = checkpoint(model, torch.ones(2))
    v = torch.autograd.Variable(
        torch.ones(2),
    )
    """
)
# (code, severity, line, column) of BAD's findings, in order
EXPECTED = [
    ("GL101", "error", 5, 5),
    ("GL105", "error", 6, 1),
    ("GL201", "error", 7, 6),
    ("GL312", "warning", 9, 5),
    ("GL702", "hint", 10, 5),
]


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "train.py").write_text(BAD)
    (tmp_path / "clean.py").write_text("import torch\nwith torch.no_grad():\n    pass\n")
    return tmp_path


def run(cli, fmt, *args, cwd, env=None):
    env = dict({"GITHUB_WORKSPACE": "", "CI_PROJECT_DIR": ""}, **(env or {}))
    return cli("check", "--no-cache", "--output-format", fmt, *args, cwd=cwd, env=env)


def validator(name):
    schema = json.loads((DATA / name).read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def assert_valid(name, document):
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


# --------------------------------------------------------------------------------------------------------
# SARIF


def test_sarif_schema_copy_is_the_official_one():
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["$id"] == "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"
    assert "SARIF" in schema["title"] and "2.1.0" in schema["title"]
    jsonschema.Draft7Validator.check_schema(schema)


def test_sarif_is_valid_against_the_official_schema(cli, project):
    result = run(cli, "sarif", "pkg", "clean.py", cwd=project)
    assert result.code == 1, result.err
    sarif = json.loads(result.out)
    assert_valid("sarif-schema-2.1.0.json", sarif)
    assert sarif["version"] == "2.1.0"
    (run_,) = sarif["runs"]
    assert run_["tool"]["driver"]["name"] == "autogradlint"
    assert [(r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["region"]["startLine"],
             r["locations"][0]["physicalLocation"]["region"]["startColumn"]) for r in run_["results"]] == [
        (code, {"error": "error", "warning": "warning", "hint": "note"}[severity], line, column)
        for code, severity, line, column in EXPECTED
    ]


def test_sarif_rules_carry_their_docs_and_severity(cli, project):
    sarif = json.loads(run(cli, "sarif", "pkg", cwd=project).out)
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    by_id = {r["id"]: r for r in rules}
    assert set(by_id) == set(all_rules()) | set(ENGINE_CODES)
    for code, rule in all_rules().items():
        descriptor = by_id[code]
        assert descriptor["name"] == rule.name
        assert "## What it does" in descriptor["help"]["markdown"]
        assert rule.documentation().strip() in descriptor["help"]["markdown"]
        assert rule.documentation().strip() in descriptor["help"]["text"]
        level = {"error": "error", "warning": "warning", "hint": "note"}[rule.severity]
        assert descriptor["defaultConfiguration"]["level"] == level
    # every result names its rule by id and by index
    for result in sarif["runs"][0]["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_locations_are_relative_to_srcroot_with_full_regions(cli, project):
    sarif = json.loads(run(cli, "sarif", "pkg", cwd=project).out)
    run_ = sarif["runs"][0]
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"
    assert run_["columnKind"] == "unicodeCodePoints"
    data = json.loads(run(cli, "json", "pkg", cwd=project).out)
    for result, finding in zip(run_["results"], data):
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"] == {"uri": "pkg/train.py", "uriBaseId": "%SRCROOT%"}
        assert location["region"] == {"startLine": finding["line"], "startColumn": finding["column"],
                                      "endLine": finding["end_line"], "endColumn": finding["end_column"]}
    assert data[-1]["end_line"] == data[-1]["line"] + 2  # the multi-line GL702 span is carried whole


def _apply_sarif_fixes(text, results):
    """Apply every result's fix as a SARIF consumer does: regions are 1-based (line, column in code points,
    end exclusive) in the original text; replacements go from last to first."""
    lines = text.splitlines(keepends=True)

    def offset(line, column):
        return sum(len(x) for x in lines[: line - 1]) + column - 1

    replacements = []
    for result in results:
        for fix in result.get("fixes", []):
            for change in fix["artifactChanges"]:
                for r in change["replacements"]:
                    region = r["deletedRegion"]
                    start = offset(region["startLine"], region["startColumn"])
                    end = offset(region["endLine"], region["endColumn"])
                    replacements.append((start, end, r["insertedContent"]["text"]))
    for start, end, content in sorted(replacements, reverse=True):
        text = text[:start] + content + text[end:]
    return text


def test_sarif_fixes_applied_by_a_consumer_give_what_fix_writes(cli, project):
    sarif = json.loads(run(cli, "sarif", "pkg", cwd=project).out)
    results = sarif["runs"][0]["results"]
    fixed_codes = [r["ruleId"] for r in results if r.get("fixes")]
    # the safe fixes and the unsafe ones (GL312, GL702) are all carried; their applicability says which
    assert fixed_codes == ["GL101", "GL105", "GL201", "GL312", "GL702"]
    safe = [r for r in results if r["fixes"][0]["properties"]["applicability"] == "safe"]
    assert [r["ruleId"] for r in safe] == ["GL101", "GL105", "GL201"]
    for r in safe:
        assert r["fixes"][0]["artifactChanges"][0]["artifactLocation"] == {"uri": "pkg/train.py", "uriBaseId": "%SRCROOT%"}
    applied = _apply_sarif_fixes(BAD, safe)
    fix = cli("check", "--no-cache", "--fix", "pkg", cwd=project)
    assert fix.code == 1  # the unsafe-fix findings remain
    assert applied == (project / "pkg" / "train.py").read_text()
    assert applied != BAD


def _fingerprints(cli, cwd, fmt="sarif"):
    if fmt == "sarif":
        results = json.loads(run(cli, "sarif", ".", cwd=cwd).out)["runs"][0]["results"]
        return [(r["ruleId"], r["partialFingerprints"]["autogradlint/v1"]) for r in results]
    return [(i["check_name"], i["fingerprint"]) for i in json.loads(run(cli, "gitlab", ".", cwd=cwd).out)]


@pytest.mark.parametrize("fmt", ["sarif", "gitlab"])
def test_fingerprints_are_stable_across_runs_and_unrelated_edits(cli, tmp_path, fmt):
    source = "import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.eval\nmodel.eval\nmodel.train\n"
    target = tmp_path / "train.py"
    target.write_text(source)
    first = _fingerprints(cli, tmp_path, fmt)
    assert [code for code, _ in first] == ["GL105", "GL105", "GL105"]
    assert len({fp for _, fp in first}) == 3  # the same line twice: two findings, two fingerprints
    assert _fingerprints(cli, tmp_path, fmt) == first
    # unrelated edits above and between: every line number moves, no fingerprint does
    target.write_text("import torch\n\n# a comment\nx = 1\nmodel = torch.nn.Linear(2, 2)\nmodel.eval\n\nmodel.eval\nmodel.train\n")
    assert _fingerprints(cli, tmp_path, fmt) == first
    # the flagged line itself changes: that finding is a new one, the others keep theirs
    target.write_text(source.replace("model.train\n", "model.train  # why\n"))
    changed = _fingerprints(cli, tmp_path, fmt)
    assert changed[:2] == first[:2] and changed[2] != first[2]


def test_sarif_paths_follow_github_workspace_and_are_uri_encoded(cli, project):
    odd = project / "pkg" / "my model%1.py"
    odd.write_text("model.eval\n")
    sarif = json.loads(run(cli, "sarif", ".", cwd=project / "pkg", env={"GITHUB_WORKSPACE": str(project)}).out)
    assert_valid("sarif-schema-2.1.0.json", sarif)
    run_ = sarif["runs"][0]
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run_["results"]]
    assert uris[0] == "pkg/my%20model%251.py" and unquote(uris[0]) == "pkg/my model%1.py"
    assert set(uris[1:]) == {"pkg/train.py"}
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"


def test_sarif_of_a_clean_run_is_valid_and_empty(cli, project):
    result = run(cli, "sarif", "clean.py", cwd=project)
    assert result.code == 0
    sarif = json.loads(result.out)
    assert_valid("sarif-schema-2.1.0.json", sarif)
    assert sarif["runs"][0]["results"] == []


def test_sarif_syntax_error_is_a_result_of_the_engine_rule(cli, tmp_path):
    (tmp_path / "broken.py").write_text("import torch\ndef f(:\n    model.eval\n")
    sarif = json.loads(run(cli, "sarif", ".", cwd=tmp_path).out)
    assert_valid("sarif-schema-2.1.0.json", sarif)
    (result,) = sarif["runs"][0]["results"]
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert result["ruleId"] == "GL001" and rules[result["ruleIndex"]]["id"] == "GL001"


# --------------------------------------------------------------------------------------------------------
# GitHub workflow commands

COMMAND = re.compile(r"^::(?P<command>[a-z]+) (?P<properties>[^:]*)::(?P<data>.*)$")


def _unescape_data(text):
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _unescape_property(text):
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def parse_workflow_commands(output):
    """Parse as the Actions runner does (ActionCommand.TryParseV2): '::', the command up to the first space,
    properties up to the next '::', split on ',' then on the first '=', each unescaped; the rest is data."""
    commands = []
    for line in output.splitlines():
        match = COMMAND.match(line)
        assert match, f"not a workflow command: {line!r}"
        properties = {}
        for pair in match["properties"].split(","):
            key, _, value = pair.partition("=")
            properties[key] = _unescape_property(value)
        commands.append((match["command"], properties, _unescape_data(match["data"])))
    return commands


def test_github_annotations_carry_position_severity_and_title(cli, project):
    result = run(cli, "github", "pkg", cwd=project)
    assert result.code == 1
    data = json.loads(run(cli, "json", "pkg", cwd=project).out)
    commands = parse_workflow_commands(result.out)
    assert [c[0] for c in commands] == ["error", "error", "error", "warning", "notice"]
    for (command, props, message), finding in zip(commands, data):
        assert props == {
            "file": "pkg/train.py",
            "line": str(finding["line"]),
            "col": str(finding["column"]),
            "endLine": str(finding["end_line"]),
            "endColumn": str(finding["end_column"]),
            "title": f"{finding['code']} {finding['name']}",
        }
        assert message == finding["message"]
    assert result.out.splitlines()[0].startswith("::error file=pkg/train.py,line=5,col=5,endLine=5,endColumn=19,"
                                                 "title=GL101 misspelled-requires-grad::")


def test_github_escapes_hostile_file_names(cli, tmp_path):
    names = ["a,b:c.py", "100%0A.py", "new\nline.py", "x::error file=evil.py"]
    for name in names:
        (tmp_path / (name if name.endswith(".py") else name + ".py")).write_text("model.eval\n")
    result = run(cli, "github", ".", cwd=tmp_path)
    assert result.code == 1, result.err
    commands = parse_workflow_commands(result.out)
    assert len(result.out.splitlines()) == len(names)  # no name breaks the one-line command
    files = sorted(props["file"] for _, props, _ in commands)
    assert files == sorted(n if n.endswith(".py") else n + ".py" for n in names)
    assert all(c[0] == "error" and c[1]["title"] == "GL105 method-not-called" for c in commands)
    assert "%2C" in result.out and "%3A" in result.out and "%0A" in result.out and "%25" in result.out


def test_github_escapes_hostile_messages():
    message = "100% sure: a,b\r\nnext line ::error file=x::forged"
    d = Diagnostic("dir:1/a,b.py", 3, 4, 5, 6, "GL101", "misspelled-requires-grad", "warning", message)
    line = github_format.line_of(d, d.path)
    assert "\n" not in line and "\r" not in line
    ((command, props, data),) = parse_workflow_commands(line)
    assert command == "warning" and data == message
    assert props == {"file": "dir:1/a,b.py", "line": "3", "col": "4", "endLine": "5", "endColumn": "6",
                     "title": "GL101 misspelled-requires-grad"}
    assert line == ("::warning file=dir%3A1/a%2Cb.py,line=3,col=4,endLine=5,endColumn=6,title=GL101 misspelled-requires-grad"
                    "::100%25 sure: a,b%0D%0Anext line ::error file=x::forged")


def test_notebook_findings_are_placed_at_the_file_with_their_cell_in_the_message():
    # notebook findings (Diagnostic.cell, from notebook support) count lines inside a cell, not in the .ipynb
    from types import SimpleNamespace

    from autogradlint.report import concise, pylint

    d = SimpleNamespace(path="nb.ipynb", line=2, column=5, end_line=2, end_column=9, code="GL105",
                        name="method-not-called", severity="error", message="m", fix=None, cell=3)
    assert github_format.line_of(d, "nb.ipynb") == ("::error file=nb.ipynb,line=1,col=1,endLine=1,endColumn=1,"
                                                    "title=GL105 method-not-called::cell 3, line 2, column 5: m")
    assert pylint.render([d]) == "nb.ipynb:1: [GL105] cell 3, line 2, column 5: m\n"
    assert concise.line_of(d) == "nb.ipynb:cell 3:2:5: GL105 error m"


def test_github_paths_are_relative_to_the_workspace(cli, project):
    result = run(cli, "github", ".", cwd=project / "pkg", env={"GITHUB_WORKSPACE": str(project)})
    assert {props["file"] for _, props, _ in parse_workflow_commands(result.out)} == {"pkg/train.py"}


# --------------------------------------------------------------------------------------------------------
# GitLab Code Quality


def test_gitlab_report_has_gitlabs_required_fields(cli, project):
    result = run(cli, "gitlab", "pkg", "clean.py", cwd=project)
    assert result.code == 1
    issues = json.loads(result.out)
    assert_valid("gitlab-codequality-schema.json", issues)
    assert [(i["check_name"], i["severity"], i["location"]["lines"]["begin"]) for i in issues] == [
        (code, {"error": "major", "warning": "minor", "hint": "info"}[severity], line)
        for code, severity, line, _ in EXPECTED
    ]
    assert {i["location"]["path"] for i in issues} == {"pkg/train.py"}
    assert len({i["fingerprint"] for i in issues}) == len(issues)  # GitLab: unique per finding
    assert issues[-1]["location"]["lines"] == {"begin": 10, "end": 12}
    assert issues[0]["description"].startswith("GL101 (misspelled-requires-grad): 'require_grad' is not")


def test_gitlab_paths_are_relative_to_the_project_dir(cli, project):
    issues = json.loads(run(cli, "gitlab", ".", cwd=project / "pkg", env={"CI_PROJECT_DIR": str(project)}).out)
    assert_valid("gitlab-codequality-schema.json", issues)
    assert {i["location"]["path"] for i in issues} == {"pkg/train.py"}
    assert json.loads(run(cli, "gitlab", "clean.py", cwd=project).out) == []


def test_gitlab_schema_rejects_what_gitlab_rejects():
    good = {"description": "d", "check_name": "GL101", "fingerprint": "f", "severity": "major",
            "location": {"path": "a.py", "lines": {"begin": 1}}}
    assert not list(validator("gitlab-codequality-schema.json").iter_errors([good]))
    bad_documents = [
        [dict(good, severity="error")],
        [dict(good, location={"path": "./a.py", "lines": {"begin": 1}})],
        [dict(good, location={"path": "a.py"})],
        [{k: v for k, v in good.items() if k != "fingerprint"}],
    ]
    for document in bad_documents:
        assert list(validator("gitlab-codequality-schema.json").iter_errors(document)), document


# --------------------------------------------------------------------------------------------------------
# JUnit and pylint


def test_junit_parses_with_the_structure_ci_systems_read(cli, project):
    (project / "pkg" / "more.py").write_text("model.eval\n")
    result = run(cli, "junit", "pkg", "clean.py", cwd=project)
    assert result.code == 1
    root = ET.fromstring(result.out.encode("utf-8"))
    assert root.tag == "testsuites" and root.get("name") == "autogradlint"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "6", "0")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["pkg/more.py", "pkg/train.py"]
    train = suites[1]
    assert (train.get("tests"), train.get("failures"), train.get("errors"), train.get("skipped")) == ("5", "5", "0", "0")
    cases = train.findall("testcase")
    assert [(c.get("classname"), c.get("file"), c.get("line")) for c in cases] == [
        ("pkg.train", "pkg/train.py", str(line)) for _, _, line, _ in EXPECTED
    ]
    assert cases[0].get("name") == "GL101 misspelled-requires-grad at line 5, column 5"
    failure = cases[0].find("failure")
    assert failure.get("type") == "GL101 error" and failure.get("message").startswith("'require_grad' is not")
    assert failure.text.startswith("pkg/train.py:5:5: GL101 error 'require_grad'")
    assert cases[3].find("failure").get("type") == "GL312 warning"


def test_junit_clean_run_is_one_passing_case(cli, project):
    result = run(cli, "junit", "clean.py", cwd=project)
    assert result.code == 0
    root = ET.fromstring(result.out.encode("utf-8"))
    assert (root.get("tests"), root.get("failures")) == ("1", "0")
    (case,) = root.iter("testcase")
    assert case.find("failure") is None


def test_junit_survives_hostile_file_names(cli, tmp_path):
    name = 'a<&>"b\x01.py'
    (tmp_path / name).write_text("model.eval\n")
    result = run(cli, "junit", ".", cwd=tmp_path)
    root = ET.fromstring(result.out.encode("utf-8"))
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == 'a<&>"b\ufffd.py'


def test_pylint_format_is_path_line_code_message(cli, project):
    result = run(cli, "pylint", "pkg", cwd=project)
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == "pkg/train.py:5: [GL101] 'require_grad' is not a tensor attribute; nothing is frozen. Did you mean 'requires_grad'?"
    assert [re.match(r"^pkg/train\.py:(\d+): \[(GL\d{3})\] \S", line).groups() for line in lines] == [
        (str(line), code) for code, _, line, _ in EXPECTED
    ]


@pytest.mark.parametrize("fmt", ["sarif", "github", "gitlab", "junit", "pylint", "json"])
def test_machine_formats_print_no_summary_and_no_colour(cli, project, fmt):
    result = run(cli, fmt, "pkg", cwd=project, env={"FORCE_COLOR": "1"})
    assert "Found " not in result.out and "fixable with" not in result.out and "\x1b[" not in result.out


@pytest.mark.parametrize("fmt", ["sarif", "github", "gitlab", "junit", "pylint"])
def test_format_can_be_set_in_the_configuration(cli, project, fmt):
    (project / "pyproject.toml").write_text(f'[tool.autogradlint]\noutput-format = "{fmt}"\n')
    configured = cli("check", "--no-cache", "pkg", cwd=project, env={"GITHUB_WORKSPACE": "", "CI_PROJECT_DIR": ""})
    assert configured.out == run(cli, fmt, "pkg", cwd=project).out
