"""autogradlint's benchmark: real corpora, side by side with the LibCST parse floor and TorchFix.

    python bench/run.py                 # everything (downloads the corpora and TorchFix once)
    python bench/run.py --corpus timm   # one corpus
    python bench/run.py --skip-torchfix
    python bench/run.py --corpus lightning --repeat 5   # floor and autogradlint in turns, median ratio

Corpora are built from registry wheels (unpacked, their *.py files) and the installed torch package's own
sources; everything lives under bench/corpora/ (git-ignored). autogradlint is measured as a user installs it: a
regular (not editable) `pip install` of this checkout into its own virtual environment, bench/.venv-autogradlint,
reinstalled at every run, and run through its `autogradlint` command; the LibCST parse floor and `import libcst` are
measured with that environment's Python too, so both sides of every ratio pay the same interpreter start-up.
TorchFix pins an older LibCST, so it gets its own virtual environment in bench/.venv-torchfix. Every measurement
runs in a fresh process; CPU time and peak memory come from getrusage of that process and its children (peak
memory is the largest single process: "per worker").
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPORA = HERE / "corpora"
TORCHFIX_VENV = HERE / ".venv-torchfix"
AUTOGRADLINT_VENV = HERE / ".venv-autogradlint"

# set by main(): the Python that runs the parse floor and `import libcst`, and the command that runs autogradlint
PYTHON = sys.executable
AUTOGRADLINT = [sys.executable, "-m", "autogradlint"]

# wheel name -> pinned version, so that figures are comparable from run to run
WHEELS = {
    "lightning": "2.6.6",
    "timm": "1.0.31",
    "accelerate": "1.15.0",
    "transformers": "5.23.0",
}
TORCHFIX_VERSION = "0.7.0"


def _measure(command, cwd=None, env=None) -> dict:
    """Run a command through a fresh helper process: wall and CPU seconds of the command and its children,
    and the peak RSS of its largest process (MB), so that each figure is this command's own."""
    code = (
        "import json, resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "p = subprocess.run(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
        "wall = time.perf_counter() - start\n"
        "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'wall': wall, 'cpu': r.ru_utime + r.ru_stime, 'peak_mb': r.ru_maxrss / 1024,"
        " 'returncode': p.returncode, 'stderr': p.stderr.decode(errors='replace')[-400:]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, json.dumps(command)], cwd=cwd, env=env or MEASURE_ENV,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def _median_of(times: int, command) -> dict:
    return _median_run([_measure(command) for _ in range(times)], "wall")


def _median_run(runs, key: str = "cpu") -> dict:
    return sorted(runs, key=lambda r: r[key])[len(runs) // 2]


# as a user's installed package has it: byte-code written and reused (some shells export PYTHONDONTWRITEBYTECODE)
MEASURE_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def install_autogradlint() -> None:
    """(Re)install this checkout into bench/.venv-autogradlint as a user would (``pip install .``: a wheel, byte-code
    compiled at install), so that what is measured is this code without an editable install's import hooks."""
    global PYTHON, AUTOGRADLINT
    python = AUTOGRADLINT_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(AUTOGRADLINT_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(HERE.parent)], check=True)
    else:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(HERE.parent)],
                       check=True)
    PYTHON, AUTOGRADLINT = str(python), [str(AUTOGRADLINT_VENV / "bin" / "autogradlint")]


def use_python(python: str) -> None:
    """Measure with ``python`` (which has autogradlint and LibCST installed) instead; its autogradlint modules are
    compiled once first, so that no measured run pays for compiling them."""
    global PYTHON, AUTOGRADLINT
    code = ("import compileall, os, sys, autogradlint, autogradlint.rule\n"
            "autogradlint.rule.all_rules()\n"
            "roots = {os.path.dirname(autogradlint.__file__), *sys.modules['autogradlint.rules'].__path__}\n"
            "for root in roots: compileall.compile_dir(root, quiet=1)\n")
    subprocess.run([python, "-c", code], check=True, env=MEASURE_ENV)
    PYTHON, AUTOGRADLINT = python, [python, "-m", "autogradlint"]


def build_corpora(names) -> dict:
    """name -> directory of *.py files; downloads and unpacks wheels the first time."""
    CORPORA.mkdir(parents=True, exist_ok=True)
    corpora = {}
    for name in names:
        if name == "torch":
            corpora[name] = _torch_corpus()
            continue
        target = CORPORA / name
        if not target.exists():
            wheels = CORPORA / "wheels"
            wheels.mkdir(exist_ok=True)
            spec = f"{name}=={WHEELS[name]}"
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d",
                            str(wheels), spec], check=True)
            wheel = sorted(wheels.glob(f"{name.replace('-', '_')}-{WHEELS[name]}-*.whl"))[-1]
            temporary = Path(tempfile.mkdtemp(dir=CORPORA))
            with zipfile.ZipFile(wheel) as archive:
                for member in archive.namelist():
                    if member.endswith(".py") and ".dist-info/" not in member:
                        archive.extract(member, temporary)
            temporary.rename(target)
        corpora[name] = target
    return corpora


def _torch_corpus() -> Path:
    """A copy of the installed torch package's *.py files (copied: under ~/.pyenv they are git-ignored)."""
    target = CORPORA / "torch"
    if not target.exists():
        import importlib.util

        spec = importlib.util.find_spec("torch")
        if spec is None or spec.origin is None:
            raise SystemExit("torch is not installed: pip install torch==2.13.0 (or use --corpus)")
        source = Path(spec.origin).parent
        temporary = Path(tempfile.mkdtemp(dir=CORPORA))
        for path in source.rglob("*.py"):
            destination = temporary / "torch" / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
        temporary.rename(target)
    return target


def python_files(directory: Path):
    return sorted(str(p) for p in directory.rglob("*.py"))


def ensure_torchfix() -> Path:
    executable = TORCHFIX_VENV / "bin" / "torchfix"
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", str(TORCHFIX_VENV)], check=True)
        subprocess.run([str(TORCHFIX_VENV / "bin" / "pip"), "install", "-q", f"torchfix=={TORCHFIX_VERSION}"], check=True)
    return executable


PARSE_FLOOR = (
    "import gc, sys, libcst\n"
    "if len(sys.argv) > 2: gc.disable()\n"
    "for path in open(sys.argv[1]).read().split('\\n'):\n"
    "    if path:\n"
    "        try:\n"
    "            libcst.parse_module(open(path, 'rb').read())\n"
    "        except Exception:\n"
    "            pass\n"
)


def bench_corpus(name: str, directory: Path, jobs: int, torchfix, repeat: int = 1) -> dict:
    files = python_files(directory)
    lines = sum(Path(f).read_bytes().count(b"\n") for f in files)
    listing = Path(tempfile.mkstemp(suffix=".txt")[1])
    listing.write_text("\n".join(files))
    cache = Path(tempfile.mkdtemp())
    autogradlint = AUTOGRADLINT + ["check", "--exit-zero", "--output-format", "concise", "--select", "ALL",
                "--no-respect-gitignore"]
    results = {"files": len(files), "lines": lines}
    # The floor and autogradlint are measured in turns, ``repeat`` times: on a shared machine the same command's CPU
    # time drifts by tens of percent over minutes, and the ratio of a pair measured back to back drifts far less.
    # The table shows each command's median run; the CPU ratio is the median of the pairs' ratios.
    floors, offs, colds = [], [], []
    for _ in range(repeat):
        floors.append(_measure([PYTHON, "-c", PARSE_FLOOR, str(listing)]))
        # autogradlint pauses Python's garbage collector while it lints a file (engine._collector_paused): the same
        # parse without the collector shows how much of the margin over the floor comes from that
        offs.append(_measure([PYTHON, "-c", PARSE_FLOOR, str(listing), "gc-off"]))
        colds.append(_measure(autogradlint + ["--no-cache", "--jobs", "1", str(directory)]))
    results["parse floor"] = _median_run(floors)
    results["parse floor, GC off"] = _median_run(offs)
    results["autogradlint cold, 1 job"] = _median_run(colds)
    results["pair ratios"] = sorted(c["cpu"] / f["cpu"] for c, f in zip(colds, floors))
    results["pair ratios, GC off"] = sorted(c["cpu"] / f["cpu"] for c, f in zip(colds, offs))
    results[f"autogradlint cold, {jobs} jobs"] = _measure(autogradlint + ["--cache-dir", str(cache), "--jobs", str(jobs), str(directory)])
    # a warm run lasts a tenth of a second: the median of five, so that one hiccup of the machine does not decide
    results["autogradlint warm"] = _median_of(5, autogradlint + ["--cache-dir", str(cache), "--jobs", str(jobs), str(directory)])
    if torchfix is not None:
        results["torchfix --select ALL"] = _measure([str(torchfix), "--select", "ALL", str(directory)])
    shutil.rmtree(cache, ignore_errors=True)
    listing.unlink()
    return results


def bench_single_file(jobs: int) -> dict:
    sample = HERE.parent / "examples" / "train_bugs.py"
    runs = {"import libcst": [], "autogradlint one file": []}
    for _ in range(11):
        runs["import libcst"].append(_measure([PYTHON, "-c", "import libcst"])["wall"])
        runs["autogradlint one file"].append(
            _measure(AUTOGRADLINT + ["check", "--no-cache", "--exit-zero", str(sample)])["wall"]
        )
    return {k: sorted(v)[len(v) // 2] for k, v in runs.items()}


def bench_largest_torch_file(directory: Path) -> dict:
    largest = max(python_files(directory), key=lambda f: os.path.getsize(f))
    floor = _measure([PYTHON, "-c", "import sys, libcst; libcst.parse_module(open(sys.argv[1], 'rb').read())", largest])
    ours = _measure(AUTOGRADLINT + ["check", "--no-cache", "--exit-zero", "--select", "ALL", largest])
    return {"file": largest, "size_mb": os.path.getsize(largest) / 1e6, "libcst_peak_mb": floor["peak_mb"],
            "autogradlint_peak_mb": ours["peak_mb"]}


def report(all_results: dict, single: dict, largest, jobs: int) -> str:
    out = []
    for name, results in all_results.items():
        out.append(f"\n## {name}: {results['files']} files, {results['lines']} lines\n")
        out.append("| run | wall s | CPU s | peak MB | files/s | CPU / parse floor |")
        out.append("|---|---|---|---|---|---|")
        floor = results["parse floor"]["cpu"]
        for label, r in results.items():
            if not isinstance(r, dict):
                continue
            flag = "" if r.get("returncode", 0) in (0, 1) else f" (exit {r['returncode']})"
            rate = results["files"] / r["wall"] if r["wall"] else 0
            out.append(f"| {label}{flag} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['peak_mb']:.0f} | {rate:.0f} | {r['cpu'] / floor:.2f}x |")
        cold_n = results[f"autogradlint cold, {jobs} jobs"]
        warm = results["autogradlint warm"]
        out.append("")
        ratios, off_ratios = results["pair ratios"], results["pair ratios, GC off"]
        pairs = f" (median of {len(ratios)} back-to-back pairs: {', '.join(f'{r:.2f}' for r in ratios)})" if len(ratios) > 1 else ""
        out.append(f"- CPU, all rules, vs parse floor: {ratios[len(ratios) // 2]:.2f}x{pairs} (target <= 1.5x); vs the parse "
                   f"with the garbage collector off as autogradlint runs it: {off_ratios[len(off_ratios) // 2]:.2f}x")
        out.append(f"- warm rerun vs cold ({jobs} jobs): {cold_n['wall'] / warm['wall']:.1f}x faster (target >= 20x)")
        if "torchfix --select ALL" in results:
            tf = results["torchfix --select ALL"]
            out.append(f"- cold wall, {jobs} jobs, vs TorchFix: {tf['wall'] / cold_n['wall']:.1f}x faster (target >= 10x)")
    out.append("\n## single file (the pre-commit case), median of 11 alternating runs\n")
    out.append(f"- `python -c 'import libcst'`: {single['import libcst']:.3f} s; autogradlint on one file: "
               f"{single['autogradlint one file']:.3f} s; ratio {single['autogradlint one file'] / single['import libcst']:.2f}x (target <= 1.3x)")
    if largest:
        out.append("\n## largest torch file\n")
        out.append(f"- {Path(largest['file']).name} ({largest['size_mb']:.1f} MB): LibCST parse peak {largest['libcst_peak_mb']:.0f} MB, "
                   f"autogradlint peak {largest['autogradlint_peak_mb']:.0f} MB, ratio "
                   f"{largest['autogradlint_peak_mb'] / largest['libcst_peak_mb']:.2f}x (target <= 1.3x)")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", action="append", choices=["torch", *WHEELS], help="corpora to use (default: all)")
    parser.add_argument("--skip-torchfix", action="store_true")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", metavar="PATH", help="also write the raw figures here")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="measure the parse floor and autogradlint cold N times in turns; the CPU ratio is the median pair's")
    parser.add_argument("--python", metavar="PATH",
                        help="measure autogradlint and LibCST installed in this Python (e.g. an editable install you are "
                             "working on) instead of a fresh install in bench/.venv-autogradlint")
    args = parser.parse_args()
    names = args.corpus or ["torch", *WHEELS]
    corpora = build_corpora(names)
    if args.python:
        use_python(args.python)
    else:
        install_autogradlint()
    torchfix = None if args.skip_torchfix else ensure_torchfix()
    results = {name: bench_corpus(name, directory, args.jobs, torchfix, args.repeat) for name, directory in corpora.items()}
    single = bench_single_file(args.jobs)
    largest = bench_largest_torch_file(corpora["torch"]) if "torch" in corpora else None
    text = report(results, single, largest, args.jobs)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"corpora": results, "single": single, "largest": largest}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
