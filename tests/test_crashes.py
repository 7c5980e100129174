"""Crashes and lost results (issue 14): deep f-strings, dying workers, orphaned workers, quadratic placement,
a false GL304 on Accelerate's backward, one added import per file. Every test goes through the real CLI in a
subprocess under a timeout."""
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import Result, run_autogradlint

TIMEOUT = 300


def run(*args, cwd, env=None, timeout=TIMEOUT, script=None):
    """The CLI (or a wrapper ``script`` that registers extra rules before it) in a subprocess."""
    result = Result(run_autogradlint(*args, cwd=cwd, env=env, script=script, timeout=timeout))
    return result.code, result.out, result.err


def findings(out):
    """path -> [(line, column, code, message)] of concise output."""
    found = {}
    for line in out.splitlines():
        match = re.match(r"(.+?):(\d+):(\d+): (GL\d+) (.*)", line)
        if match:
            found.setdefault(match.group(1), []).append(
                (int(match.group(2)), int(match.group(3)), match.group(4), match.group(5)))
    return found


# ------------------------------------------------------------------------ deep expressions inside f-strings
DEEP_EXPRESSIONS = {
    "lambda": "(" + "lambda:" * 6000 + "1)",
    "unary": "-" * 12000 + "1",
    "attribute": "a" + ".b" * 12000,
    "call": "f" + "()" * 12000,
    "subscript": "a" + "[0]" * 12000,
    "power": "**".join(["a"] * 12000),
    "binop": "+".join(["1"] * 12000),
    "and": " and ".join(["a"] * 12000),
    "not": "not " * 12000 + "1",
    # deeper than LibCST parses, but not than Python 3.13 does
    "attribute-5000": "a" + ".b" * 5000,
}


def test_a_deep_expression_inside_an_f_string_is_refused_like_the_plain_one(tmp_path):
    """LibCST's parser crashed the process (exit 139, no message) on these f-strings on Python 3.9-3.11: the
    screen measured each f-string as one byte. Each file now gets the same finding as the plain expression."""
    for name, expression in DEEP_EXPRESSIONS.items():
        (tmp_path / f"plain_{name}.py").write_text(f"import torch\nx = {expression}\n")
        for quote in ('"', "'''"):
            kind = "triple" if len(quote) == 3 else "single"
            (tmp_path / f"fstring_{kind}_{name}.py").write_text(
                f"import torch\nx = 1\ny = f{quote}value: {{{expression}!r:>{{width}}}}{quote}\n")
    code, out, err = run("check", "--no-cache", "--output-format", "concise", ".", cwd=tmp_path)
    assert code == 1, (code, err)
    assert "Traceback" not in err and "internal error" not in out
    found = findings(out)
    assert len(found) == 3 * len(DEEP_EXPRESSIONS)
    for name in DEEP_EXPRESSIONS:
        plain = found[f"plain_{name}.py"]
        assert len(plain) == 1 and plain[0][2] == "GL001", plain
        assert any(why in plain[0][3] for why in ("nested too deeply", "'and'/'or' operands")), plain
        for kind in ("single", "triple"):
            fstring = found[f"fstring_{kind}_{name}.py"]
            assert [(code, message.replace("line 3", "line 2")) for _, _, code, message in fstring] == \
                [(code, message) for _, _, code, message in plain]


def test_ordinary_f_strings_are_still_linted(tmp_path):
    """The f-string measurement must not turn ordinary f-strings into findings or refusals."""
    body = "".join(f"s{i} = f\"{{a!r}} {{b:>{{w}}}} {{c['k']}} {{d(e, [f, g])}} {{{{literal}}}} (\"\n" for i in range(100))
    (tmp_path / "a.py").write_text("import torch\n" + body + "model.eval\n")
    code, out, err = run("check", "--no-cache", "--output-format", "concise", "a.py", cwd=tmp_path)
    assert code == 1, err
    assert findings(out) == {"a.py": [(102, 1, "GL105", findings(out)["a.py"][0][3])]}


# ------------------------------------------------------------------------ thousands of findings in one file
def test_thousands_of_findings_in_one_file_are_all_placed(tmp_path):
    """Placing 30,000 findings took ten times the parse (a quadratic search among the statements holding them),
    and 100,000 ended in a bogus 'took longer than 120 s' internal error. All are reported, at their lines."""
    repeated = "model.eval\n" * 10000  # the same statement again and again: placed by Python's lines
    unique = "".join(f"model.eval  # {i}\n" for i in range(10000))  # each found by its own text
    (tmp_path / "repeated.py").write_text("import torch\n" + repeated)
    (tmp_path / "unique.py").write_text("import torch\n" + unique)
    (tmp_path / "mixed.py").write_text("import torch\nclass A:\n    def f(self):\n" +
                                       "".join("        model.eval  # %d\n" % i for i in range(5000)) + repeated[:55000])
    code, out, err = run("check", "--no-cache", "--output-format", "concise", "--jobs", "1", ".", cwd=tmp_path)
    assert code == 1, err
    assert "internal error" not in out and "GL000" not in out
    found = findings(out)
    assert [(line, column, code) for line, column, code, _ in found["repeated.py"]] == \
        [(line, 1, "GL105") for line in range(2, 10002)]
    assert [(line, column, code) for line, column, code, _ in found["unique.py"]] == \
        [(line, 1, "GL105") for line in range(2, 10002)]
    assert [(line, column) for line, column, _, _ in found["mixed.py"]] == \
        [(line, 9) for line in range(4, 5004)] + [(line, 1) for line in range(5004, 10004)]


# ------------------------------------------------------------------------ a worker that dies
CRASHING_WRAPPER = textwrap.dedent(
    """\
    import os, signal, sys, time
    from autogradlint import rule as registry
    from autogradlint.cli import main

    class Crashes(registry.Rule):
        '''## What it does\\nKills the process that runs it, to test the worker pool.'''
        code, name, message, triggers = "GL992", "crashes", "crash", ("model",)

        def visit_Name(self, node):
            if node.value == "segfault":
                os.kill(os.getpid(), signal.SIGSEGV)
            elif node.value == "hard_exit":
                os._exit(3)
            elif node.value == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            elif node.value == "out_of_memory":
                raise MemoryError()
            elif node.value == "slow":
                time.sleep(0.5)
            elif node.value == "once" and not os.path.exists("crashed-once"):
                open("crashed-once", "w").close()
                os.kill(os.getpid(), signal.SIGKILL)

    registry.all_rules()
    registry._REGISTRY["GL992"] = Crashes
    registry.rule_index()["GL992"] = registry.RuleInfo.of(Crashes)
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.fixture
def crashing(tmp_path):
    script = tmp_path / "crashing_wrapper.py"
    script.write_text(CRASHING_WRAPPER)
    return script


def ordinary_files(folder, count=40):
    for i in range(count):
        (folder / f"m{i:02d}.py").write_text(f"import torch\nx{i} = 1\nmodel.eval\n")


@pytest.mark.parametrize("death", ["segfault", "hard_exit", "sigkill"])
def test_a_worker_that_dies_costs_only_its_file(tmp_path, crashing, death):
    """With --jobs 2, one file that killed its worker ended the run in 'internal error: BrokenProcessPool', and
    the other 40 files' findings were lost. Now that file gets one finding and every other file is reported."""
    ordinary_files(tmp_path)
    (tmp_path / "zz_crash.py").write_text(f"import torch\n{death}\nmodel.eval\n")
    code, out, err = run("check", "--no-cache", "--output-format", "concise", "--jobs", "2", ".", cwd=tmp_path,
                         script=crashing)
    assert code == 2, (out, err)
    assert "Traceback" not in err and "BrokenProcessPool" not in out + err
    found = findings(out)
    assert sorted(found) == sorted([f"m{i:02d}.py" for i in range(40)] + ["zz_crash.py"])
    for i in range(40):
        assert [(line, code) for line, _, code, _ in found[f"m{i:02d}.py"]] == [(3, "GL105")]
    crash = found["zz_crash.py"]
    assert len(crash) == 1 and crash[0][2] == "GL000", crash
    assert "the linter process crashed on this file" in crash[0][3]
    expected = {"segfault": "SIGSEGV", "hard_exit": "exit code 3", "sigkill": "SIGKILL"}[death]
    assert expected in crash[0][3]


def test_a_worker_out_of_memory_and_one_killed_once_cost_nothing_else(tmp_path, crashing):
    """A MemoryError is that file's internal error; a worker killed from outside once (the OOM killer) is
    replaced and its file tried again, with its findings."""
    ordinary_files(tmp_path)
    (tmp_path / "zz_memory.py").write_text("import torch\nout_of_memory\nmodel.eval\n")
    (tmp_path / "zz_once.py").write_text("import torch\nonce\nmodel.eval\n")
    code, out, err = run("check", "--no-cache", "--output-format", "concise", "--jobs", "2", ".", cwd=tmp_path,
                         script=crashing)
    assert code == 2 and "Traceback" not in err, (out, err)
    found = findings(out)
    assert len(found) == 42
    assert [c for _, _, c, _ in found["zz_once.py"]] == ["GL105"]
    assert (tmp_path / "crashed-once").exists()
    assert ("GL000", "GL105") == tuple(c for _, _, c, _ in found["zz_memory.py"])
    assert "MemoryError" in found["zz_memory.py"][0][3]


def test_fix_with_a_crashing_worker_reports_exactly_the_fixes_made(tmp_path, crashing):
    """With --fix, all 40 files were rewritten on disk while nothing was reported."""
    ordinary_files(tmp_path)
    (tmp_path / "zz_crash.py").write_text("import torch\nsegfault\nmodel.eval\n")
    code, out, err = run("check", "--no-cache", "--output-format", "concise", "--jobs", "2", "--fix", ".",
                         cwd=tmp_path, script=crashing)
    assert code == 2 and "Traceback" not in err, (out, err)
    for i in range(40):
        assert (tmp_path / f"m{i:02d}.py").read_text() == f"import torch\nx{i} = 1\nmodel.eval()\n"
    assert (tmp_path / "zz_crash.py").read_text() == "import torch\nsegfault\nmodel.eval\n"
    found = findings(out)
    assert list(found) == ["zz_crash.py"] and "crashed on this file" in found["zz_crash.py"][0][3]
    assert "Found 41 errors (40 fixed, 1 remaining)." in out


# ------------------------------------------------------------------------ workers outlive their parent
def processes_running(marker):
    """pids of the processes whose command line holds ``marker`` (zombies aside)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read()
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != b"Z":
            found.append(int(entry))
    return found


def children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    if int(handle.read().rsplit(b")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the workers through /proc")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_workers_end_when_the_parent_is_killed(tmp_path, crashing, how):
    """SIGTERM or SIGKILL to the parent of a --jobs 2 run left its workers running forever (reparented to init)."""
    for i in range(60):
        (tmp_path / f"s{i:02d}.py").write_text("import torch\n" + "slow\n" * 10 + "model.eval\n")
    parent = subprocess.Popen([sys.executable, str(crashing), "check", "--no-cache", "--jobs", "2", "."],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = str(crashing)
    try:
        deadline = time.monotonic() + 120
        while len(children_of(parent.pid)) < 2 and parent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = children_of(parent.pid)
        assert len(workers) >= 2 and parent.poll() is None, "the run did not start its workers"
        time.sleep(0.5)  # busy in a file
        parent.send_signal(how)
        assert parent.wait(timeout=60) == -how
        deadline = time.monotonic() + 30
        while processes_running(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_running(marker) == []
    finally:
        for pid in processes_running(marker):
            os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
            parent.wait()


# ------------------------------------------------------------------------ GL304 on Accelerate's backward
ACCELERATE_LOOP = """\
import torch
from accelerate import Accelerator

accelerator = Accelerator()
model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
for x, y in loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    accelerator.backward(loss)
    optimizer.step()
"""


def test_accelerate_backward_in_a_loop_is_not_a_double_backward(tmp_path):
    """GL304 took `accelerator` for the tensor of `accelerator.backward(loss)` ('computed once before the loop') and
    its unsafe fix added retain_graph=True, keeping every iteration's graph. The loss is the argument."""
    (tmp_path / "train.py").write_text(ACCELERATE_LOOP)
    code, out, err = run("check", "--no-cache", "--output-format", "concise", "--fix", "--unsafe-fixes", "train.py",
                         cwd=tmp_path)
    assert (code, out.strip()) == (0, "All checks passed!"), (out, err)
    assert (tmp_path / "train.py").read_text() == ACCELERATE_LOOP
    # a loss computed once before the loop is still one, whoever runs its backward
    (tmp_path / "once.py").write_text("import torch\nfrom accelerate import Accelerator\naccelerator = Accelerator()\n"
                                      "loss = criterion(model(x), y)\nfor epoch in range(10):\n    accelerator.backward(loss)\n")
    code, out, err = run("check", "--no-cache", "--output-format", "concise", "once.py", cwd=tmp_path)
    assert code == 1 and "once.py:6:5: GL304 error 'loss' is computed once before the loop" in out, (out, err)


# ------------------------------------------------------------------------ one added import per file
NEEDS_TORCH_THREE_TIMES = """\
from torch import nn

model = nn.Linear(2, 2)


def clip(model):
    for p in model.parameters():
        p.data.clamp_(-0.01, 0.01)


def reset(model):
    for p in model.parameters():
        p.data.zero_()


def scale(model):
    model.weight.data.mul_(2)
"""


def test_several_fixes_that_need_import_torch_add_it_once(tmp_path):
    """Each fix that needed `import torch` added its own: one file got three."""
    path = tmp_path / "a.py"
    path.write_text(NEEDS_TORCH_THREE_TIMES)
    # GL309 (data-attribute, off by default) rewrites writes through `.data` under `with torch.no_grad():`
    code, out, err = run("check", "--no-cache", "--output-format", "concise", "--select", "GL309", "--fix",
                         "--unsafe-fixes", "a.py", cwd=tmp_path)
    assert code == 0 and "Found 3 hints (3 fixed, 0 remaining)." in out, (out, err)
    fixed = path.read_text()
    assert fixed.count("import torch\n") == 1
    assert fixed.startswith("from torch import nn\nimport torch\n\nmodel = nn.Linear(2, 2)\n")
    assert fixed.count("with torch.no_grad():") == 3
    code, out, err = run("check", "--no-cache", "--output-format", "concise", "--select", "GL309", "a.py", cwd=tmp_path)
    assert (code, out.strip()) == (0, "All checks passed!")
