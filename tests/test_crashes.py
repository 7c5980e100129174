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

from conftest import ROOT

TIMEOUT = 300


def run(*args, cwd, env=None, timeout=TIMEOUT, script=None):
    """The CLI (or a wrapper ``script`` that registers extra rules before it) in a subprocess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    command = [sys.executable, str(script)] if script else [sys.executable, "-m", "autogradlint"]
    completed = subprocess.run(command + list(args), cwd=cwd, capture_output=True, env=full_env, timeout=timeout)
    return completed.returncode, completed.stdout.decode(errors="replace"), completed.stderr.decode(errors="replace")


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
