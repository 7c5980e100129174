"""autogradlint.editor: the language server's document work without the protocol (positions in an editor's
units, incremental changes, the noqa edit, client settings)."""
import pytest

from autogradlint.documents import declared_encoding, source_bytes
from autogradlint.editor import (
    UTF8,
    UTF16,
    UTF32,
    ClientSettings,
    LineMap,
    apply_change,
    noqa_edit,
)
from autogradlint.rule import Diagnostic
from autogradlint.suppression import Suppressions


def _finding(line, code="GL101"):
    return Diagnostic("x.py", line, 1, line, 2, code, "misspelled-requires-grad", "error", "message")


@pytest.mark.parametrize("encoding, expected", [(UTF16, 5), (UTF32, 4), (UTF8, 7)])
def test_columns_in_the_clients_units(encoding, expected):
    # the spec's own example: the closing quote of x="😋"
    lines = LineMap('x="\U0001F60B"\n')
    assert lines.to_client(1, 5, encoding) == (0, expected)
    assert lines.offset(0, expected, encoding) == 4


def test_lines_end_only_where_lsp_says():
    # a form feed and U+2028 do not end a line for LSP (str.splitlines would split there)
    text = "a = 1\x0c\nb\u2028c = 2\r\nd = 3\re = 4"
    lines = LineMap(text)
    assert [lines.line_text(n) for n in range(5)] == ["a = 1\x0c", "b\u2028c = 2", "d = 3", "e = 4", ""]
    assert lines.to_client(2, 3, UTF16) == (1, 2)
    assert lines.client_position_of_offset(text.index("e"), UTF16) == (3, 0)
    # past the end of a line is its end; past the last line, the text's end
    assert lines.to_client(1, 99, UTF16) == (0, 6)
    assert lines.offset(0, 99, UTF16) == 6
    assert lines.offset(99, 0, UTF16) == len(text)


def test_incremental_changes():
    text = "x = '\U0001F600'\ny = 2\n"
    # replace the `2` (line 1): positions after an emoji on an earlier line are unaffected
    assert apply_change(text, (1, 4), (1, 5), "3", UTF16) == "x = '\U0001F600'\ny = 3\n"
    # the closing quote of line 0 is character 7 in UTF-16, 6 in UTF-32
    assert apply_change(text, (0, 7), (0, 8), '"', UTF16) == "x = '\U0001F600\"\ny = 2\n"
    assert apply_change(text, (0, 6), (0, 7), '"', UTF32) == "x = '\U0001F600\"\ny = 2\n"
    # a change across lines, and one at the very end
    assert apply_change(text, (0, 0), (1, 0), "", UTF16) == "y = 2\n"
    assert apply_change(text, (2, 0), (2, 0), "z = 3\n", UTF16) == text + "z = 3\n"
    assert apply_change(text, None, None, "new", UTF16) == "new"


def test_declared_encoding_keeps_the_engines_text():
    text = "# -*- coding: latin-1 -*-\nname = 'caf\u00e9'\n"
    assert declared_encoding(text) == "iso8859-1"
    data, encoding = source_bytes(text)
    assert data.decode(encoding) == text and b"caf\xe9" in data
    assert source_bytes("x = '\u00e9'\n") == ("x = '\u00e9'\n".encode("utf-8"), "utf-8")


def _suppressed(text, finding, edit):
    start, end, content = edit
    new = text[:start] + content + text[end:]
    assert Suppressions.from_text(new).suppresses(finding)
    return new


def test_noqa_added_to_a_line():
    text = "p.require_grad = False\nq = 1\n"
    assert _suppressed(text, _finding(1), noqa_edit(text, _finding(1))) == "p.require_grad = False  # noqa: GL101\nq = 1\n"
    # after a comment that is not a noqa, the noqa goes into the comment (flake8 reads it there too)
    text = "p.require_grad = False  # freeze\n"
    assert _suppressed(text, _finding(1), noqa_edit(text, _finding(1))) == "p.require_grad = False  # freeze  # noqa: GL101\n"
    # a line without its line end (the last one)
    text = "p.require_grad = False"
    assert _suppressed(text, _finding(1), noqa_edit(text, _finding(1))) == "p.require_grad = False  # noqa: GL101"


def test_noqa_list_extended():
    text = "p.require_grad = False  # noqa: E501\n"
    assert _suppressed(text, _finding(1), noqa_edit(text, _finding(1))) == "p.require_grad = False  # noqa: E501, GL101\n"
    text = "p.require_grad = False  # noqa: E501 because it is long\n"
    new = _suppressed(text, _finding(1), noqa_edit(text, _finding(1)))
    assert new == "p.require_grad = False  # noqa: E501, GL101 because it is long\n"


def test_no_noqa_where_a_comment_cannot_go():
    # the line ends inside a string, or with a backslash: a comment there would change the code
    text = 'x = """a\np.require_grad\n"""\n'
    assert noqa_edit(text, _finding(1)) is None
    assert noqa_edit(text, _finding(2)) is None
    text = "p.require_grad = \\\n    False\n"
    assert noqa_edit(text, _finding(1)) is None
    # but the first line of a bracketed statement can take one (its finding is on that line)
    text = "f(\n    a,\n)\n"
    assert noqa_edit(text, _finding(1))[2] == "  # noqa: GL101"
    # the engine's own findings cannot be suppressed
    assert noqa_edit("def f(:\n", _finding(1, "GL001")) is None


def test_client_settings():
    settings = ClientSettings.parse({"autogradlint": {"select": ["GL1"], "extendSelect": ["GL201"], "ignore": "GL105, GL101",
                                                      "unsafeFixes": True}})
    assert settings.layer.select == ["GL1"] and settings.layer.extend_select == ["GL201"]
    assert settings.layer.ignore == ["GL105", "GL101"] and settings.unsafe_fixes is True and settings.problems == []
    bad = ClientSettings.parse({"select": ["GL9999", "GL101"], "ignore": 3, "unsafeFixes": "yes"})
    assert bad.layer.select == ["GL101"] and bad.layer.ignore == [] and bad.unsafe_fixes is None
    assert len(bad.problems) == 3 and any("GL9999" in p for p in bad.problems)
    assert ClientSettings.parse(None).layer.select is None
    assert ClientSettings.parse({"torchVersion": "2.1"}).torch_version == (2, 1)
    wrong = ClientSettings.parse({"torchVersion": 2.1})
    assert wrong.torch_version is None and "torchVersion" in wrong.problems[0]


@pytest.mark.parametrize("old, new", [
    ("a\nb\nc\n", "a\nB\nc\n"),
    ("a\nb\nc\nd\n", "A\nb\nc\nD\n"),
    ("a\nb", "a\nb\nc\n"),
    ("x = 1\r\ny = 2\r\n", "x = 1\r\n"),
    ("", "import torch\n"),
    ("p.require_grad = 1\nq = 2\nr.eval\n", "import torch\np.requires_grad = 1\nq = 2\nr.eval()\n"),
])
def test_changed_spans_rebuild_the_new_text(old, new):
    from autogradlint.editor import changed_spans

    spans = changed_spans(old, new)
    out, at = [], 0
    for start, end, content in spans:
        assert start >= at
        out.append(old[at:start] + content)
        at = end
    assert "".join(out) + old[at:] == new
    # unchanged lines between two changes are not part of any edit
    if old == "a\nb\nc\nd\n":
        assert len(spans) == 2
