"""The large robustness sweep: the installed torch sources plus the wheels of popular PyTorch libraries.

    python bench/sweep.py            # writes its figures to stdout (paste them into docs/robustness.md)

Corpora come from bench/run.py (pinned wheel versions, unpacked under bench/corpora/). Every corpus is linted
twice by the real CLI (--jobs 2, --no-cache, --no-respect-gitignore) in JSON; the sweep reports files, findings
per rule, internal errors (GL000), syntax errors (GL001), tracebacks and whether the two runs were identical.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import WHEELS, build_corpora  # noqa: E402

CORPORA = ["torch", *WHEELS]


def sweep(name: str, directory: Path) -> dict:
    command = [sys.executable, "-m", "autogradlint", "check", "--output-format", "json", "--no-cache",
               "--no-respect-gitignore", "--jobs", "2", str(directory)]
    runs = []
    for _ in range(2):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        runs.append((done, time.perf_counter() - start))
    (first, seconds), (second, _) = runs
    found = json.loads(first.stdout or "[]")
    return {
        "corpus": name,
        "files": sum(1 for _ in directory.rglob("*.py")),
        "seconds": round(seconds, 1),
        "exit": first.returncode,
        "findings": Counter(d["code"] for d in found if d["code"] not in ("GL000", "GL001")),
        "internal_errors": sum(d["code"] == "GL000" for d in found),
        "syntax_errors": sum(d["code"] == "GL001" for d in found),
        "tracebacks": first.stderr.count("Traceback") + second.stderr.count("Traceback"),
        "stable": first.stdout == second.stdout,
    }


def main() -> None:
    results = [sweep(name, path) for name, path in build_corpora(CORPORA).items()]
    print("| corpus | files | findings | internal errors | syntax errors | tracebacks | stable | seconds (2 jobs) |")
    print("|---|---|---|---|---|---|---|---|")
    total = Counter()
    for r in results:
        total.update(r["findings"])
        print(f"| {r['corpus']} | {r['files']} | {sum(r['findings'].values())} | {r['internal_errors']} | "
              f"{r['syntax_errors']} | {r['tracebacks']} | {'yes' if r['stable'] else 'NO'} | {r['seconds']} |")
    print("\nFindings per rule (all corpora):\n")
    for code, count in sorted(total.items(), key=lambda item: (-item[1], item[0])):
        print(f"- {code}: {count}")


if __name__ == "__main__":
    main()
