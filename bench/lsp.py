"""How long the language server takes to publish diagnostics after a one-line edit, next to the time LibCST
takes to parse the same file in this same interpreter.

    python bench/lsp.py                       # a ~3,600-line file of the installed torch, and its first ~100 lines
    python bench/lsp.py --file path/to/x.py --rounds 11
    python bench/lsp.py --python bench/.venv-autogradlint/bin/python   # another install of autogradlint

The server is started once (`python -m autogradlint server`) and driven over stdio with real LSP messages
(the hand-written client of tests/lsp_stdio.py). examples/train_bugs.py is appended to both files (its
three findings are placed and their fixes built at every lint; --no-planted-findings leaves them out); the
small file is the large one's first top-level statements, up to the line count. The file is opened (the
first lint also pays for the rule imports), then each round is one `textDocument/didChange` that inserts or removes one comment line in the
middle of the file, timed from the moment the change is written to the server's stdin until the
`textDocument/publishDiagnostics` of that version is read back. The parse floor is `libcst.parse_module` of
the same bytes in this process, LibCST imported and warmed up first: once before each edit (the ratio of each
pair, and their median, is the figure that holds on a machine whose load changes), and again after the
server's rounds (median of as many parses, with the garbage collector on and off).
Targets (issue 17): a 3,600-line file within 1.5x the parse floor, a 100-line file within 100 ms.
"""
from __future__ import annotations

import argparse
import ast
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from lsp_stdio import StdioClient  # noqa: E402


def default_file(target_lines: int = 3600) -> Path:
    """The installed torch's source file closest to ``target_lines`` lines (real code, the same file on every
    run with the same torch)."""
    spec = subprocess.run([sys.executable, "-c", "import importlib.util; print(importlib.util.find_spec('torch').origin)"],
                          capture_output=True, text=True)
    if spec.returncode != 0:
        raise SystemExit("bench/lsp.py: torch is not installed here; name a file with --file")
    root = Path(spec.stdout.strip()).parent
    best = None
    for path in sorted(root.rglob("*.py")):
        try:
            lines = path.read_bytes().count(b"\n")
        except OSError:
            continue
        score = abs(lines - target_lines)
        if best is None or score < best[0]:
            best = (score, path)
    return best[1]


def top_level_cut(text: str, max_lines: int) -> str:
    """The file's top-level statements that end within its first ``max_lines`` lines (valid code)."""
    tree = ast.parse(text)
    end = 0
    for statement in tree.body:
        if statement.end_lineno <= max_lines:
            end = statement.end_lineno
        else:
            break
    return "".join(text.splitlines(True)[:end])


def middle_statement_line(text: str) -> int:
    """The 0-based line where a top-level statement near the middle of the file starts (a comment line
    inserted there is valid wherever it goes)."""
    tree = ast.parse(text)
    starts = [min([s.lineno] + [d.lineno for d in getattr(s, "decorator_list", [])]) for s in tree.body]
    return starts[len(starts) // 2] - 1


def parse_floor(data: bytes, rounds: int):
    import libcst

    libcst.parse_module(data)  # imports and warms up the native parser
    with_gc, without_gc = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        libcst.parse_module(data)
        with_gc.append(time.perf_counter() - start)
        gc.disable()
        try:
            start = time.perf_counter()
            libcst.parse_module(data)
            without_gc.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return statistics.median(with_gc), statistics.median(without_gc)


def measure(command, text: str, rounds: int) -> dict:
    import libcst

    data = text.encode("utf-8")
    libcst.parse_module(data)  # the parse floor's imports and warm-up, before anything is timed
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        path = root / "bench_file.py"
        path.write_text(text, encoding="utf-8")
        client = StdioClient(cwd=root, command=command)
        try:
            client.initialize(root)
            start = time.perf_counter()
            uri = client.open(path, text)
            findings = client.diagnostics(uri, 1, timeout=600)
            first = time.perf_counter() - start
            line = middle_statement_line(text)
            times, floors = [], []
            version = 1
            for round_number in range(rounds):
                version += 1
                if round_number % 2 == 0:
                    change = {"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}},
                              "text": f"# edit {round_number}\n"}
                else:
                    change = {"range": {"start": {"line": line, "character": 0}, "end": {"line": line + 1, "character": 0}},
                              "text": ""}
                # the parse floor, in turns with the edits: a shared machine's load changes from minute to minute
                start = time.perf_counter()
                libcst.parse_module(data)
                floors.append(time.perf_counter() - start)
                # a quiet spell first, as between two edits of a person: the server lints at once after one
                time.sleep(0.5)
                sent = time.perf_counter()
                client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                         "contentChanges": [change]})
                client.diagnostics(uri, version, timeout=600)
                times.append(time.perf_counter() - sent)
            client.close()
        finally:
            client.kill()
    return {"lines": text.count("\n"), "findings": len(findings), "first_open_s": first, "edits_s": times,
            "median_s": statistics.median(times), "floors_s": floors,
            "pair_ratio": statistics.median(t / f for t, f in zip(times, floors))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, help="the large file (default: the installed torch's file closest to 3,600 lines)")
    parser.add_argument("--small-lines", type=int, default=100, help="lines of the small file (cut from the large one)")
    parser.add_argument("--rounds", type=int, default=9, help="edits per file (the median is reported)")
    parser.add_argument("--python", help="the Python whose autogradlint serves (default: this one)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--no-planted-findings", action="store_true",
                        help="lint the files as they are (by default examples/train_bugs.py is appended to each, so "
                             "that every lint also places findings and builds their fixes)")
    args = parser.parse_args()

    path = args.file or default_file()
    text = path.read_text(encoding="utf-8")
    if args.no_planted_findings:
        small = top_level_cut(text, args.small_lines)
    else:
        bugs = (HERE.parent / "examples" / "train_bugs.py").read_text(encoding="utf-8")
        small = top_level_cut(text, args.small_lines - bugs.count("\n") - 2).rstrip("\n") + "\n\n\n" + bugs
        text = text.rstrip("\n") + "\n\n\n" + bugs
    command = [args.python or sys.executable, "-m", "autogradlint", "server"]
    results = {"file": str(path), "python": command[0]}
    for label, source in (("large", text), ("small", small)):
        measured = measure(command, source, args.rounds)
        floor, floor_no_gc = parse_floor(source.encode("utf-8"), args.rounds)
        measured.update(parse_floor_s=floor, parse_floor_gc_off_s=floor_no_gc, ratio=measured["median_s"] / floor)
        results[label] = measured
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"file: {results['file']}")
    print("| file | lines | findings | first open s | edit -> diagnostics, median s | parse floor s (GC off) | "
          "ratio of medians | median of paired ratios |")
    print("|---|---|---|---|---|---|---|---|")
    for label in ("large", "small"):
        r = results[label]
        print(f"| {label} | {r['lines']} | {r['findings']} | {r['first_open_s']:.3f} | {r['median_s']:.3f} "
              f"(min {min(r['edits_s']):.3f}, max {max(r['edits_s']):.3f}) | {r['parse_floor_s']:.3f} "
              f"({r['parse_floor_gc_off_s']:.3f}) | {r['ratio']:.2f}x | {r['pair_ratio']:.2f}x |")
    large, small = results["large"], results["small"]
    print(f"targets: large file within 1.5x the parse floor: {large['pair_ratio']:.2f}x, paired "
          f"({'met' if large['pair_ratio'] <= 1.5 else 'NOT met'}); small file within 100 ms: "
          f"{small['median_s'] * 1000:.0f} ms ({'met' if small['median_s'] <= 0.1 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
