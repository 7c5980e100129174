"""Jupyter notebooks, through the real command line: linted as one program in cell order, IPython syntax
masked without shifting positions, findings naming their cell, fixes that change nothing but code."""
import ast
import json
import os
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from autogradlint.documents import NotebookDocument, mask_ipython
from autogradlint.rule import all_rules

BAD_CELLS = [
    "import torch\nmodel = torch.nn.Linear(2, 2)",
    "for p in model.parameters():\n    p.require_grad = False",
    "x = torch.ones(2)\nwith torch.no_grad:\n    y = model(x)",
]


def write_notebook(path, cells, **metadata):
    """A notebook written by nbformat itself; ``cells`` are nbformat cells or code strings."""
    nb = new_notebook()
    nb.metadata.update(metadata)
    nb.cells = [new_code_cell(c) if isinstance(c, str) else c for c in cells]
    nbformat.write(nb, str(path))
    return path


def concise(cli, *args, cwd, stdin=None):
    return cli("check", "--no-cache", "--output-format", "concise", *args, cwd=cwd, stdin=stdin)


def findings(result):
    return [line for line in result.out.splitlines() if ": GL" in line]


_HEAD = re.compile(r"^(.*?:\d+:\d+: GL\d+)")


def head(line):
    """``path:cell N:line:col: CODE`` of a concise line (severity, fix marker and message left off)."""
    return _HEAD.match(line).group(1)


def codes(result):
    return [line.split(": ", 1)[1].split(" ")[0] for line in findings(result)]


def json_findings(cli, *args, cwd):
    result = cli("check", "--no-cache", "--output-format", "json", *args, cwd=cwd)
    assert result.code in (0, 1), result.err
    return json.loads(result.out)


# ------------------------------------------------------------------------------------------------ basics


def test_findings_name_their_cell_in_every_format(cli, tmp_path):
    write_notebook(tmp_path / "train.ipynb", [new_markdown_cell("# Training"), *BAD_CELLS])
    result = concise(cli, "train.ipynb", cwd=tmp_path)
    assert result.code == 1
    assert [head(line) for line in findings(result)] == [
        "train.ipynb:cell 3:2:5: GL101",
        "train.ipynb:cell 4:2:6: GL201",
    ]
    full = cli("check", "--no-cache", "train.ipynb", cwd=tmp_path)
    assert "train.ipynb:cell 4:2:6: GL201" in full.out
    # the snippet is the cell's own line
    assert "2 | with torch.no_grad:" in full.out and "  |      ^^^^^^^^^^^^^ GL201" in full.out
    items = json_findings(cli, "train.ipynb", cwd=tmp_path)
    assert [(d["code"], d["cell"], d["line"], d["column"], d["end_line"], d["end_column"]) for d in items] == [
        ("GL101", 3, 2, 5, 2, 19), ("GL201", 4, 2, 6, 2, 19)]
    # fix edits are in the same (cell) coordinates
    assert items[1]["fix"]["edits"] == [{"line": 2, "column": 19, "end_line": 2, "end_column": 19, "content": "()",
                                         "cell": 4}]


def test_cells_are_one_program_in_order(cli, tmp_path):
    # the model is defined in cell 1 and frozen (misspelled) in cell 3; a markdown and a raw cell in between
    write_notebook(tmp_path / "nb.ipynb", [
        "import torch\nmodel = torch.nn.Linear(2, 2)",
        new_markdown_cell("Freeze it:\n\n```python\nfor p in model.parameters(): p.require_grad = False\n```"),
        new_raw_cell("with torch.no_grad:"),
        "model.eval\n",
    ])
    result = concise(cli, "nb.ipynb", cwd=tmp_path)
    assert [head(line) for line in findings(result)] == ["nb.ipynb:cell 4:1:1: GL105"]


def test_directory_walk_finds_notebooks_by_default_and_include_changes_it(cli, tmp_path):
    write_notebook(tmp_path / "nb.ipynb", BAD_CELLS)
    (tmp_path / "script.py").write_text("model.eval\n")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    write_notebook(tmp_path / ".ipynb_checkpoints" / "nb-checkpoint.ipynb", BAD_CELLS)
    (tmp_path / "extra.pyw").write_text("model.eval\n")
    files = lambda r: sorted({line.split(":")[0] for line in findings(r)})  # noqa: E731
    assert files(concise(cli, ".", cwd=tmp_path)) == ["nb.ipynb", "script.py"]
    assert files(concise(cli, "--include", "*.py", ".", cwd=tmp_path)) == ["script.py"]
    assert files(concise(cli, "--extend-include", "*.pyw", ".", cwd=tmp_path)) == ["extra.pyw", "nb.ipynb", "script.py"]
    (tmp_path / "pyproject.toml").write_text('[tool.autogradlint]\ninclude = ["*.ipynb"]\nextend-include = ["*.pyw"]\n')
    assert files(concise(cli, ".", cwd=tmp_path)) == ["extra.pyw", "nb.ipynb"]
    # only notebooks in a folder: no "no Python files found"
    only = tmp_path / "only"
    only.mkdir()
    write_notebook(only / "a.ipynb", ["print(1)"])
    result = concise(cli, "only", cwd=tmp_path)
    assert (result.code, result.err) == (0, "")


def test_stdin_with_a_notebook_filename(cli, tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", BAD_CELLS)
    data = path.read_bytes()
    result = concise(cli, "--stdin-filename", "nb.ipynb", "-", cwd=tmp_path, stdin=data)
    assert result.code == 1
    assert [line.split(":", 3)[:3] for line in findings(result)] == [["nb.ipynb", "cell 2", "2"],
                                                                     ["nb.ipynb", "cell 3", "2"]]
    fixed = cli("check", "--no-cache", "--fix", "--stdin-filename", "nb.ipynb", "-", cwd=tmp_path, stdin=data)
    assert fixed.code == 0, fixed.err
    nb = nbformat.reads(fixed.out, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[1].source.endswith("p.requires_grad = False")
    assert "with torch.no_grad():" in nb.cells[2].source


def test_cached_results_keep_the_cell(cli, tmp_path):
    write_notebook(tmp_path / "nb.ipynb", BAD_CELLS)
    first = cli("check", "--output-format", "json", "nb.ipynb", cwd=tmp_path)
    second = cli("check", "--output-format", "json", "nb.ipynb", cwd=tmp_path)
    assert (tmp_path / ".autogradlint_cache").is_dir()
    assert first.out == second.out and [d["cell"] for d in json.loads(second.out)] == [2, 3]
    third = cli("check", "--output-format", "concise", "nb.ipynb", cwd=tmp_path)
    assert "nb.ipynb:cell 3:2:6: GL201" in third.out


def test_parallel_jobs_give_the_same_findings(cli, tmp_path):
    for number in range(30):  # enough files for worker processes
        write_notebook(tmp_path / f"nb{number:02}.ipynb", BAD_CELLS)
    one = concise(cli, "--jobs", "1", ".", cwd=tmp_path)
    two = concise(cli, "--jobs", "2", ".", cwd=tmp_path)
    assert one.out == two.out and len(findings(two)) == 60


def test_per_file_ignores_and_noqa(cli, tmp_path):
    write_notebook(tmp_path / "nb.ipynb", BAD_CELLS)
    (tmp_path / "pyproject.toml").write_text('[tool.autogradlint.per-file-ignores]\n"*.ipynb" = ["GL201"]\n')
    assert codes(concise(cli, "nb.ipynb", cwd=tmp_path)) == ["GL101"]
    (tmp_path / "pyproject.toml").unlink()

    cells = list(BAD_CELLS)
    cells[2] = cells[2].replace("with torch.no_grad:", "with torch.no_grad:  # noqa: GL201")
    cells[1] = cells[1] + "  # noqa: GL999"
    write_notebook(tmp_path / "nb.ipynb", cells)
    result = concise(cli, "nb.ipynb", cwd=tmp_path)
    assert codes(result) == ["GL101"]
    assert "nb.ipynb:cell 2:2: unknown rule code 'GL999'" in result.err

    # a file-level noqa in the first code cell silences the whole notebook
    write_notebook(tmp_path / "nb.ipynb", ["# autogradlint: noqa\n" + BAD_CELLS[0], *BAD_CELLS[1:]])
    result = concise(cli, "nb.ipynb", cwd=tmp_path)
    assert (result.code, findings(result)) == (0, [])


# ------------------------------------------------------------------------------------------------ IPython


IPYTHON_CELLS = [
    "%matplotlib inline\n%load_ext autoreload\nimport torch\n!pip install -q timm\nmodel = torch.nn.Linear(2, 2)",
    "model?\n??model.forward\ntorch.nn.Linear??\nfiles = !ls\nresult = %who_ls\n%env CUDA_VISIBLE_DEVICES=0",
    "%%time\nfor p in model.parameters():\n    p.require_grad = False",
    "%%bash\necho 'with torch.no_grad:'\nmodel.eval",
    "%%capture out\nwith torch.no_grad:\n    y = model(torch.ones(2))",
    "if True:\n    %time model.eval\n    !echo hi \\\n       continued\n    x = 1\ndoc = '''\n%not a magic\n!nor this\n'''\nmodel.train",
    "%time     model.eval\n%timeit -n 10 -r 3 model.eval\n%%time\nmodel.eval",
    "%%html\n<b>with torch.no_grad:</b>",
]


def test_ipython_syntax_neither_crashes_nor_shifts_positions(cli, tmp_path):
    write_notebook(tmp_path / "nb.ipynb", IPYTHON_CELLS)
    result = concise(cli, "nb.ipynb", cwd=tmp_path)
    assert result.code == 1, result.err
    assert [head(line) for line in findings(result)] == [
        "nb.ipynb:cell 3:3:5: GL101",   # %%time body: linted
        "nb.ipynb:cell 5:2:6: GL201",   # %%capture body: linted
        "nb.ipynb:cell 6:2:11: GL105",  # %time statement: linted, at its own column
        "nb.ipynb:cell 6:10:1: GL105",  # after a string whose lines start with % and !
        "nb.ipynb:cell 7:1:11: GL105",
        "nb.ipynb:cell 7:2:20: GL105",
        "nb.ipynb:cell 7:4:1: GL105",  # a %%time line that is not a cell's first is a line of IPython
    ]
    # the %%bash/%%html cells' text is not linted, nor a line with a magic that is not one statement
    assert "cell 4" not in result.out and "cell 8" not in result.out


def test_a_fix_never_touches_a_magic_line(cli, tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", ["import torch\nmodel = torch.nn.Linear(2, 2)",
                                                  "%time model.eval\nmodel.train"])
    before = path.read_bytes()
    result = concise(cli, "nb.ipynb", cwd=tmp_path)
    lines = findings(result)
    assert head(lines[0]) == "nb.ipynb:cell 2:1:7: GL105" and "[*]" not in lines[0]  # no fix offered
    assert head(lines[1]) == "nb.ipynb:cell 2:2:1: GL105" and "[*]" in lines[1]
    fixed = cli("check", "--no-cache", "--fix", "nb.ipynb", cwd=tmp_path)
    assert fixed.code == 1
    assert nbformat.read(str(path), as_version=4).cells[1].source == "%time model.eval\nmodel.train()"
    assert path.read_bytes() != before


@pytest.mark.parametrize("text,opaque", [
    ("x = 1\n", set()),
    ("%matplotlib inline\nx = 1\n", {1}),
    ("x = (1\n     % 2)\n", set()),  # inside brackets: not IPython
    ('s = """\n!x\n"""\n!ls\n', {4}),
    ("!a \\\n  b\nx = 1", {1, 2}),
    ("%%bash\nls\nx", {1, 2, 3}),
    ("%%timeit -n 2\nx = 1", {1}),
    ("y = 2  # why?\n", set()),
])
def test_masking_keeps_lines(text, opaque):
    masked = mask_ipython(text)
    assert masked.text.count("\n") == text.count("\n") and masked.opaque == opaque
    ast.parse(masked.text)  # what is left is Python


# ------------------------------------------------------------------------------------------------ fixing


def _without_sources(nb):
    copy = json.loads(json.dumps(nb))
    for cell in copy["cells"]:
        if cell["cell_type"] == "code":
            cell["source"] = None
    return copy


def test_fix_rewrites_only_changed_code_cells(cli, tmp_path):
    cells = [new_markdown_cell("# Title"), *map(new_code_cell, BAD_CELLS), new_code_cell("print('clean')")]
    for cell in cells[1:]:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="some output\n")]
        cell.execution_count = 7
    cells[2].metadata["tags"] = ["freeze"]
    path = write_notebook(tmp_path / "nb.ipynb", cells, kernelspec={"name": "python3", "language": "python",
                                                                    "display_name": "Python 3"})
    before = path.read_text()
    result = cli("check", "--no-cache", "--fix", "nb.ipynb", cwd=tmp_path)
    assert result.code == 0, result.out + result.err
    after = path.read_text()
    nb = nbformat.reads(after, as_version=4)
    nbformat.validate(nb)
    # nbformat would write exactly these bytes (indent, key order, trailing newline)
    assert nbformat.writes(nb) + "\n" == after or nbformat.writes(nb) == after
    old, new = json.loads(before), json.loads(after)
    assert _without_sources(old) == _without_sources(new)
    assert [c["source"] for c in old["cells"]][0::4] == [c["source"] for c in new["cells"]][0::4]
    assert "".join(new["cells"][2]["source"]).endswith("p.requires_grad = False")
    assert "with torch.no_grad():\n" in new["cells"][3]["source"]
    assert new["cells"][1]["source"] == old["cells"][1]["source"]


def test_fix_keeps_a_hand_written_layout_byte_for_byte(cli, tmp_path):
    # indent 2, keys unsorted, no trailing newline, a source held as one string, an escaped non-ASCII character
    content = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"language_info": {"name": "python"}},
        "cells": [
            {"cell_type": "code", "source": "import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.eval",
             "metadata": {}, "outputs": [], "execution_count": None, "id": "x1"},
            {"cell_type": "markdown", "source": ["caf\u00e9\n"], "metadata": {}, "id": "x2"},
            {"cell_type": "code", "source": ["x = 1  # caf\u00e9\n", "with torch.no_grad:\n", "    pass"],
             "metadata": {}, "outputs": [], "execution_count": 3, "id": "abc"},
        ],
    }
    text = json.dumps(content, indent=2)
    path = tmp_path / "nb.ipynb"
    path.write_text(text)
    result = cli("check", "--no-cache", "--fix", "nb.ipynb", cwd=tmp_path)
    assert result.code == 0, result.out + result.err
    expected = text.replace('model.eval"', 'model.eval()"').replace('"with torch.no_grad:\\n"',
                                                                       '"with torch.no_grad():\\n"')
    assert path.read_text() == expected
    nbformat.validate(nbformat.reads(path.read_text(), as_version=4))


def test_diff_is_per_cell_and_writes_nothing(cli, tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", BAD_CELLS)
    before = path.read_bytes()
    result = cli("check", "--no-cache", "--diff", "nb.ipynb", cwd=tmp_path)
    assert result.code == 1
    assert "--- nb.ipynb:cell 2\n+++ nb.ipynb:cell 2\n" in result.out
    assert "-with torch.no_grad:\n+with torch.no_grad():\n" in result.out
    assert "cell 1" not in result.out
    assert path.read_bytes() == before


# ------------------------------------------------------------------------------------------------ bad notebooks


def test_bad_notebooks_get_one_clear_finding_and_the_run_goes_on(cli, tmp_path):
    (tmp_path / "not_json.ipynb").write_text("{ this is not json")
    (tmp_path / "list.ipynb").write_text("[1, 2, 3]\n")
    (tmp_path / "v3.ipynb").write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {},
                                                   "worksheets": [{"cells": []}]}))
    (tmp_path / "bad_source.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                                           "cells": [{"cell_type": "code", "source": 3}]}))
    (tmp_path / "empty_file.ipynb").write_text("")
    write_notebook(tmp_path / "no_cells.ipynb", [])
    write_notebook(tmp_path / "markdown_only.ipynb", [new_markdown_cell("with torch.no_grad:")])
    write_notebook(tmp_path / "r_kernel.ipynb", ["with torch.no_grad:\n    pass"], language_info={"name": "R"})
    write_notebook(tmp_path / "syntax.ipynb", ["import torch", "def f(:\n    pass"])
    write_notebook(tmp_path / "good.ipynb", BAD_CELLS)
    result = concise(cli, ".", cwd=tmp_path)
    assert result.code == 1
    lines = findings(result)
    by_file = {line.split(":")[0]: line for line in lines}
    assert set(by_file) == {"not_json.ipynb", "list.ipynb", "v3.ipynb", "bad_source.ipynb", "syntax.ipynb",
                            "good.ipynb"}
    assert "GL001 error cannot read the notebook: it is not valid JSON" in by_file["not_json.ipynb"]
    assert "GL001 error not a Jupyter notebook" in by_file["list.ipynb"]
    assert "GL001 error nbformat 3 notebooks are not supported" in by_file["v3.ipynb"]
    assert "GL001 error not a valid notebook: the source of cell 1 is not text" in by_file["bad_source.ipynb"]
    assert by_file["syntax.ipynb"].startswith("syntax.ipynb:cell 2:1:")
    assert len([line for line in lines if line.startswith("good.ipynb")]) == 2
    assert "Traceback" not in result.err


def test_a_source_held_as_a_string_is_linted_and_fixed_as_a_string(cli, tmp_path):
    content = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
               "cells": [{"cell_type": "code", "id": "a1", "metadata": {}, "outputs": [], "execution_count": None,
                          "source": "import torch\nwith torch.no_grad:\n    pass\n"}]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(content, indent=1) + "\n")
    assert findings(concise(cli, "nb.ipynb", cwd=tmp_path))[0].startswith("nb.ipynb:cell 1:2:6: GL201")
    assert cli("check", "--no-cache", "--fix", "nb.ipynb", cwd=tmp_path).code == 0
    fixed = json.loads(path.read_text())
    assert fixed["cells"][0]["source"] == "import torch\nwith torch.no_grad():\n    pass\n"
    nbformat.validate(nbformat.reads(path.read_text(), as_version=4))


def test_a_large_notebook_of_image_outputs(cli, tmp_path):
    image = "iVBORw0KGgo" + "A" * (5 * 1024 * 1024)
    cells = []
    for number in range(10):
        cell = new_code_cell(BAD_CELLS[2] if number == 9 else ("import torch\nmodel = torch.nn.Linear(2, 2)"
                                                               if number == 0 else f"x{number} = {number}"))
        cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": image, "text/plain": "<Figure>"})]
        cells.append(cell)
    path = write_notebook(tmp_path / "big.ipynb", cells)
    assert path.stat().st_size > 50 * 1024 * 1024
    result = concise(cli, "big.ipynb", cwd=tmp_path)
    assert [head(line) for line in findings(result)] == ["big.ipynb:cell 10:2:6: GL201"]
    before = os.path.getsize(path)
    assert cli("check", "--no-cache", "--fix", "big.ipynb", cwd=tmp_path).code == 0
    assert os.path.getsize(path) == before + 2
    assert nbformat.read(str(path), as_version=4).cells[9].outputs[0]["data"]["image/png"] == image


# ------------------------------------------------------------------------------------------------ the API


def test_notebook_document_from_editor_cells():
    """What the language server uses: cells from an editor, findings per cell."""
    rules = list(all_rules().values())
    document = NotebookDocument.from_cells("nb.ipynb", [("code", BAD_CELLS[0]), ("markdown", "# x"),
                                                        ("code", BAD_CELLS[2])])
    per_cell = document.lint_by_cell(rules)
    assert [[(d.code, d.line, d.column) for d in cell] for cell in per_cell] == [[], [], [("GL201", 2, 6)]]
    fix = per_cell[2][0].fix
    fixed = document.with_edits(list(fix.edits))
    assert fixed.cells[2].text == BAD_CELLS[2].replace("no_grad:", "no_grad():")
    assert fixed.lint_by_cell(rules) == [[], [], []]


# ------------------------------------------------------------------------------------------------ rule examples


def _top_level_starts(source):
    """1-based first lines of the top-level statements (decorators included)."""
    tree = ast.parse(source)
    return [min([s.lineno] + [d.lineno for d in getattr(s, "decorator_list", [])]) for s in tree.body]


def _example_notebook(source):
    """The example's code split into up to three code cells at top-level statements, with a markdown cell, a
    cell of magics and a %%time line in between; returns (cells, where) where ``where`` maps a line of the
    source to (cell number, line in that cell)."""
    lines = source.splitlines(keepends=True)
    starts = _top_level_starts(source)
    cuts = sorted({starts[len(starts) // 2], starts[-1]} - {starts[0]}) if len(starts) > 1 else []
    bounds = [1] + cuts + [len(lines) + 1]
    cells = [new_markdown_cell("## An example\nwith `torch.no_grad:` in *markdown*")]
    where = {}
    for number, (start, end) in enumerate(zip(bounds, bounds[1:])):
        chunk = "".join(lines[start - 1:end - 1])
        prefix = "%%time\n" if number == 1 else ""
        cells.append(new_code_cell(prefix + chunk.rstrip("\n")))
        for line in range(start, end):
            where[line] = (len(cells), line - start + 1 + (1 if prefix else 0))
        if number == 0:
            cells.append(new_code_cell("%matplotlib inline\n!pip install -q torch\nmodel?"))
            cells.append(new_markdown_cell("More code:"))
    return cells, where


EXAMPLES = [(rule.code, i, ex) for rule in all_rules().values() for i, ex in enumerate(rule.invalid)]


@pytest.fixture(scope="module")
def example_tree(tmp_path_factory):
    """Every rule's invalid examples, each as a .py file and as a notebook."""
    root = tmp_path_factory.mktemp("examples")
    maps = {}
    for code, index, example in EXAMPLES:
        stem = f"{code}_{index}"
        # an example written for an older torch is linted for it (a folder per version)
        folder = root / (example.torch_version or "newest")
        folder.mkdir(exist_ok=True)
        (folder / f"{stem}.py").write_text(example.source)
        cells, where = _example_notebook(example.source)
        write_notebook(folder / f"{stem}.ipynb", cells)
        maps[stem] = where
    return root, maps


def _version_args(folder):
    return [] if folder.name == "newest" else ["--torch-version", folder.name]


def test_rule_examples_as_notebooks_find_what_the_scripts_find(cli, example_tree):
    root, maps = example_tree
    items = [d for folder in sorted(root.iterdir())  # rules off by default too
             for d in json_findings(cli, "--select", "ALL", *_version_args(folder), ".", cwd=folder)]
    scripts = {}
    notebooks = {}
    for d in items:
        stem, suffix = os.path.splitext(d["path"])
        target = scripts if suffix == ".py" else notebooks
        target.setdefault(stem, []).append(d)
    assert set(scripts) == set(maps)  # every example fires (as its own test says)
    for stem, found in scripts.items():
        where = maps[stem]
        expected = sorted((d["code"], *where[d["line"]], d["column"], d["message"]) for d in found)
        got = sorted((d["code"], d["cell"], d["line"], d["column"], d["message"]) for d in notebooks.get(stem, []))
        assert got == expected, stem


def test_rule_examples_as_notebooks_are_fixed_as_the_scripts_are(cli, example_tree, tmp_path):
    source_root, maps = example_tree
    fix_root = tmp_path / "fix"
    for code, index, example in EXAMPLES:
        if example.fixed is None:
            continue
        stem = f"{code}_{index}"
        folder = fix_root / (example.torch_version or "newest")
        folder.mkdir(parents=True, exist_ok=True)
        for suffix in (".py", ".ipynb"):
            (folder / (stem + suffix)).write_bytes((source_root / folder.name / (stem + suffix)).read_bytes())
    originals = {p: p.read_text() for p in fix_root.rglob("*.ipynb")}
    for folder in sorted(fix_root.iterdir()):
        result = cli("check", "--no-cache", "--select", "ALL", *_version_args(folder), "--fix", "--unsafe-fixes",
                     "--exit-zero", ".", cwd=folder)
        assert result.code == 0, result.err
        assert "Traceback" not in result.err
    checked = 0
    for path in sorted(fix_root.rglob("*.ipynb")):
        before, after = json.loads(originals[path]), json.loads(path.read_text())
        nbformat.validate(nbformat.reads(path.read_text(), as_version=4))
        assert _without_sources(before) == _without_sources(after), path.name
        for old_cell, new_cell in zip(before["cells"], after["cells"]):
            if old_cell["cell_type"] != "code" or "%matplotlib" in "".join(old_cell["source"]):
                assert old_cell["source"] == new_cell["source"], path.name
        # the notebook's code, magics aside, is the fixed script
        code = [c for c in after["cells"] if c["cell_type"] == "code" and "%matplotlib" not in "".join(c["source"])]
        text = "\n".join("".join(c["source"]).replace("%%time\n", "", 1) for c in code)
        fixed_script = path.with_suffix(".py").read_text()
        assert text.rstrip("\n") == fixed_script.rstrip("\n"), path.name
        checked += 1
    assert checked >= 40


def test_fix_in_a_compact_ascii_notebook_that_adds_lines(cli, tmp_path):
    """One-line JSON with escaped non-ASCII text: a fix that adds lines (an import, a `with` block) keeps the
    layout, the escapes and every other cell."""
    content = {"cells": [
        {"cell_type": "code", "execution_count": None, "id": "a", "metadata": {}, "outputs": [],
         "source": ["import torch.nn as nn"]},
        {"cell_type": "code", "execution_count": None, "id": "b", "metadata": {}, "outputs": [],
         "source": ["%matplotlib inline"]},
        {"cell_type": "code", "execution_count": None, "id": "c", "metadata": {}, "outputs": [],
         "source": ["class Net(nn.Module):  # r\u00e9seau\n", "    def __init__(self):\n",
                    "        super().__init__()\n", "        self.fc = nn.Linear(4, 2)\n",
                    "        self.fc.weight.data.normal_(0, 0.01)"]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    text = json.dumps(content)
    path = tmp_path / "nb.ipynb"
    path.write_text(text)
    result = cli("check", "--no-cache", "--select", "ALL", "--fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert result.code == 0, result.out + result.err
    after = path.read_text()
    assert after.isascii() and "r\\u00e9seau" in after and "\n" not in after
    fixed = json.loads(after)
    assert fixed["cells"][0]["source"] == ["import torch.nn as nn\n", "import torch"]
    assert after.startswith('{"cells": [{"cell_type": "code", "execution_count": null, "id": "a", "metadata": {}, '
                            '"outputs": [], "source": ["import torch.nn as nn\\n", "import torch"]}, ')
    assert fixed["cells"][1]["source"] == ["%matplotlib inline"]
    assert "".join(fixed["cells"][2]["source"]).endswith(
        "        with torch.no_grad():\n            self.fc.weight.normal_(0, 0.01)")
    nbformat.validate(nbformat.reads(after, as_version=4))


def test_max_file_size_bounds_a_notebooks_code_not_its_outputs(cli, tmp_path):
    plot = new_code_cell("x = 1")
    plot.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "A" * 300_000})]
    write_notebook(tmp_path / "plots.ipynb", [*BAD_CELLS, plot])
    write_notebook(tmp_path / "code.ipynb", ["import torch\n" + "x = 1\n" * 20_000 + "model.eval"])
    result = concise(cli, "--max-file-size", "100KB", ".", cwd=tmp_path)
    lines = findings(result)
    assert [head(line) for line in lines if line.startswith("plots")] == [
        "plots.ipynb:cell 2:2:5: GL101", "plots.ipynb:cell 3:2:6: GL201"]
    assert [line for line in lines if line.startswith("code")] == [
        "code.ipynb:1:1: GL002 error the notebook's code is too large to check: over the limit of 100 KiB "
        "(--max-file-size, or max-file-size in [tool.autogradlint]; 0 for no limit)"]
    # through standard input too
    data = (tmp_path / "plots.ipynb").read_bytes()
    piped = concise(cli, "--max-file-size", "100KB", "--stdin-filename", "plots.ipynb", "-", cwd=tmp_path, stdin=data)
    assert len(findings(piped)) == 2
