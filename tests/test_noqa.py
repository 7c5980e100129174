"""# noqa suppression, in every output mode."""
import json

from conftest import lint

SOURCE = "import torch\nmodel.eval{comment}\n"


def findings(comment):
    return [d.code for d in lint(SOURCE.format(comment=comment))]


def test_unsuppressed():
    assert findings("") == ["GL105"]


def test_bare_noqa():
    assert findings("  # noqa") == []


def test_noqa_with_code():
    assert findings("  # noqa: GL105") == []
    assert findings("  # noqa:GL105") == []
    assert findings("  # NOQA: gl105") == []


def test_noqa_with_other_code_does_not_suppress():
    assert findings("  # noqa: GL101") == ["GL105"]
    assert findings("  # noqa: E501") == ["GL105"]


def test_noqa_with_several_codes_and_names():
    assert findings("  # noqa: E501, GL101,GL105") == []
    assert findings("  # noqa: method-not-called") == []
    assert findings("  # some words # noqa: misspelled-requires-grad, method-not-called") == []


def test_noqa_inside_a_string_is_not_a_comment():
    assert [d.code for d in lint("import torch\nmodel.eval; s = '# noqa'\n")] == ["GL105"]


def test_file_level_noqa():
    assert lint("# autogradlint: noqa\nimport torch\nmodel.eval\np.require_grad = 1\n") == []
    found = lint("# autogradlint: noqa: GL105\nimport torch\nmodel.eval\np.require_grad = 1\n")
    assert [d.code for d in found] == ["GL101"]


def test_file_level_noqa_must_be_on_its_own_line():
    assert [d.code for d in lint("x = 1  # autogradlint: noqa\nmodel.eval\n")] == ["GL105"]


def test_noqa_applies_to_the_line_where_the_finding_starts():
    source = "import torch\nwith open('f') as f, \\\n        torch.no_grad:  # noqa: GL201\n    pass\n"
    assert lint(source) == []


def test_noqa_honoured_by_json_output(cli, tmp_path):
    (tmp_path / "a.py").write_text("model.eval  # noqa: GL105\nmodel.train\n")
    result = cli("check", "--output-format", "json", "a.py", cwd=tmp_path)
    assert [(d["code"], d["line"]) for d in json.loads(result.out)] == [("GL105", 2)]
