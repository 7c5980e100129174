"""What a notebook costs: the benchmark corpora's files linted as .py files and as notebooks built from them.

    python bench/notebooks.py                       # the torch corpus (from the installed torch), 400 files
    python bench/notebooks.py --corpus timm --limit 0 --repeat 5
    python bench/notebooks.py --python /path/to/venv/bin/python   # an install you are working on

Each corpus file becomes a notebook (nbformat 4, written as nbformat writes it): its top-level statements
split into code cells of a few statements each, a markdown cell before every code cell and, in one variant,
every code cell given a display output of a 200 KB PNG (the shape of a notebook that plots as it trains).
The code is the file's code, so the notebook should cost what the .py file costs (the issue's target: within
10%), and outputs should cost nothing but reading the bytes. The .py tree, the notebook tree and the notebook
tree with outputs are measured in turns (``--repeat`` times, fresh processes, one job, no cache, every rule),
and the CPU ratios of each back-to-back triple are reported (their median is the figure).
"""
from __future__ import annotations

import argparse
import ast
import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402  (bench/run.py: corpora, installs, measurement)

STATEMENTS_PER_CELL = 4
IMAGE = "iVBORw0KGgoAAAANSUhEUgAA" + "A" * (200 * 1024)


def _cells(source: str):
    """The file's text cut into code cells at top-level statements (None when Python cannot parse it)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    lines = source.splitlines(keepends=True)
    starts = [min([s.lineno] + [d.lineno for d in getattr(s, "decorator_list", [])]) for s in tree.body]
    cuts = [1] + starts[STATEMENTS_PER_CELL::STATEMENTS_PER_CELL] + [len(lines) + 1]
    return ["".join(lines[a - 1:b - 1]) for a, b in zip(cuts, cuts[1:]) if b > a]


def _notebook(cells, outputs: bool) -> str:
    notebook_cells = []
    for number, text in enumerate(cells):
        notebook_cells.append({"cell_type": "markdown", "id": f"m{number}", "metadata": {},
                               "source": [f"Part {number}\n"]})
        code = {"cell_type": "code", "execution_count": number + 1, "id": f"c{number}", "metadata": {},
                "outputs": [], "source": text.splitlines(keepends=True)}
        if outputs:
            code["outputs"] = [{"output_type": "display_data", "metadata": {},
                                "data": {"image/png": IMAGE, "text/plain": ["<Figure size 640x480 with 1 Axes>"]}}]
        notebook_cells.append(code)
    content = {"cells": notebook_cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                                    "name": "python3"},
                                                     "language_info": {"name": "python"}},
               "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(content, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def build_trees(directory: Path, limit: int, work: Path):
    """(py tree, notebook tree, notebook-with-outputs tree, files, MB of outputs) from a corpus directory."""
    files = run.python_files(directory)
    if limit:
        files = files[:: max(1, len(files) // limit)][:limit]
    trees = [work / "py", work / "ipynb", work / "ipynb-outputs"]
    for tree in trees:
        tree.mkdir(parents=True)
    count = 0
    output_bytes = 0
    for number, path in enumerate(files):
        source = Path(path).read_text(encoding="utf-8", errors="replace")
        cells = _cells(source)
        if not cells:
            continue
        stem = f"f{number:05}"
        (trees[0] / f"{stem}.py").write_text("".join(cells), encoding="utf-8")
        (trees[1] / f"{stem}.ipynb").write_text(_notebook(cells, False), encoding="utf-8")
        with_outputs = _notebook(cells, True)
        (trees[2] / f"{stem}.ipynb").write_text(with_outputs, encoding="utf-8")
        output_bytes += len(with_outputs)
        count += 1
    return trees, count, output_bytes / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="torch", choices=["torch", *run.WHEELS])
    parser.add_argument("--limit", type=int, default=400, help="files taken from the corpus, evenly spread (0: all)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N")
    parser.add_argument("--python", metavar="PATH", help="measure autogradlint installed in this Python")
    args = parser.parse_args()
    corpus = run.build_corpora([args.corpus])[args.corpus]
    if args.python:
        run.use_python(args.python)
    else:
        run.install_autogradlint()
    work = Path(tempfile.mkdtemp(prefix="autogradlint-notebooks-"))
    try:
        (py, ipynb, outputs), count, megabytes = build_trees(corpus, args.limit, work)
        command = run.AUTOGRADLINT + ["check", "--exit-zero", "--output-format", "concise", "--select", "ALL",
                                      "--no-cache", "--jobs", "1"]
        runs = {"py": [], "ipynb": [], "ipynb + outputs": []}
        for _ in range(args.repeat):
            for label, tree in (("py", py), ("ipynb", ipynb), ("ipynb + outputs", outputs)):
                runs[label].append(run._measure(command + [str(tree)]))
        print(f"\n## {args.corpus}: {count} files as .py and as notebooks ({megabytes:.0f} MB with outputs)\n")
        print("| run | wall s | CPU s | peak MB |")
        print("|---|---|---|---|")
        for label, measured in runs.items():
            middle = run._median_run(measured)
            print(f"| {label} | {middle['wall']:.2f} | {middle['cpu']:.2f} | {middle['peak_mb']:.0f} |")
        notebook = sorted(n["cpu"] / p["cpu"] for n, p in zip(runs["ipynb"], runs["py"]))
        heavy = sorted(o["cpu"] / n["cpu"] for o, n in zip(runs["ipynb + outputs"], runs["ipynb"]))
        print(f"\n- CPU, notebooks vs the same code as .py: {notebook[len(notebook) // 2]:.3f}x "
              f"(pairs: {', '.join(f'{r:.3f}' for r in notebook)}; target <= 1.10x)")
        print(f"- CPU, notebooks with outputs vs without: {heavy[len(heavy) // 2]:.3f}x "
              f"(pairs: {', '.join(f'{r:.3f}' for r in heavy)})")
        for label, measured in runs.items():
            for r in measured:
                if r["returncode"] not in (0, 1):
                    print(f"- {label}: exit {r['returncode']}: {r['stderr']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
