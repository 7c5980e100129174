"""The report a person reads (full, concise, grouped): severities, the summary, multi-line spans, colour."""
import os
import subprocess
import sys
import textwrap

import pytest


MIXED = textwrap.dedent(
    """\
    import torch
    from torch.utils.checkpoint import checkpoint
    model = torch.nn.Linear(2, 2)
    model.eval
    y = checkpoint(model, torch.ones(2))
    v = torch.autograd.Variable(
        torch.ones(2),
    )
    w = torch.autograd.Variable(
        torch.ones(2),
        torch.ones(2),
        torch.ones(2),
        torch.ones(2),
        torch.ones(2),
    )
    """
)
NO_COLOUR_ENV = {"NO_COLOR": "", "FORCE_COLOR": "", "TERM": "xterm"}


@pytest.fixture
def project(tmp_path):
    (tmp_path / "mixed.py").write_text(MIXED)
    (tmp_path / "warn.py").write_text("import torch\nfrom torch.utils.checkpoint import checkpoint\ny = checkpoint(f, x)\n")
    (tmp_path / "b.py").write_text("model.eval\n" + "\n" * 9 + "model.train\n")
    return tmp_path


def check(cli, *args, cwd, env=None):
    return cli("check", "--no-cache", *args, cwd=cwd, env=dict(NO_COLOUR_ENV, **(env or {})))


def test_concise_shows_each_findings_severity(cli, project):
    result = check(cli, "--output-format", "concise", "mixed.py", cwd=project)
    lines = result.out.splitlines()
    assert lines[0] == "mixed.py:4:1: GL105 error [*] '.eval' is never called, so nothing happens. Add '()': '.eval()'"
    assert lines[1].startswith("mixed.py:5:5: GL312 warning 'checkpoint' without 'use_reentrant='")
    assert lines[2].startswith("mixed.py:6:5: GL702 hint torch.autograd.Variable is deprecated")


@pytest.mark.parametrize(
    "paths,summary",
    [
        (["warn.py"], "Found 1 warning."),
        (["mixed.py"], "Found 1 error, 1 warning and 2 hints."),
        (["b.py"], "Found 2 errors."),
        (["b.py", "warn.py"], "Found 2 errors and 1 warning."),
    ],
)
@pytest.mark.parametrize("fmt", ["full", "concise", "grouped"])
def test_summary_counts_each_severity(cli, project, paths, summary, fmt):
    result = check(cli, "--output-format", fmt, *paths, cwd=project)
    assert result.code == 1
    assert summary in result.out.splitlines()
    assert "Found 1 error." not in result.out


def test_fix_summary_counts_severities_of_fixed_and_remaining(cli, project):
    result = check(cli, "--output-format", "concise", "--fix", "--show-fixes", "b.py", "warn.py", cwd=project)
    assert result.code == 1
    assert "Fixed 2 errors:" in result.out
    assert "Found 2 errors and 1 warning (2 fixed, 1 remaining)." in result.out


def test_full_format_underlines_every_line_of_a_multi_line_span(cli, project):
    out = check(cli, "mixed.py", cwd=project).out
    block = out.split("mixed.py:6:5: GL702 hint")[1].split("\n\n")[0].splitlines()[1:]
    assert block == [
        "  |",
        "6 | v = torch.autograd.Variable(",
        "  |     ^^^^^^^^^^^^^^^^^^^^^^^^",
        "7 |     torch.ones(2),",
        "  |     ^^^^^^^^^^^^^^",
        "8 | )",
        "  | ^ GL702",
        "  |",
    ]


def test_full_format_caps_a_long_span(cli, project):
    out = check(cli, "mixed.py", cwd=project).out
    block = out.split("mixed.py:9:5: GL702 hint")[1].split("\n\n")[0].splitlines()[1:]
    assert block == [
        "   |",
        " 9 | w = torch.autograd.Variable(",
        "   |     ^^^^^^^^^^^^^^^^^^^^^^^^",
        "10 |     torch.ones(2),",
        "   |     ^^^^^^^^^^^^^^",
        "11 |     torch.ones(2),",
        "   |     ^^^^^^^^^^^^^^",
        "12 |     torch.ones(2),",
        "   |     ^^^^^^^^^^^^^^",
        "13 |     torch.ones(2),",
        "   |     ^^^^^^^^^^^^^^",
        "   | ... GL702",
        "   |",
    ]
    assert "14 |" not in out


def test_full_format_single_line_finding_is_unchanged(cli, project):
    out = check(cli, "mixed.py", cwd=project).out
    assert "mixed.py:4:1: GL105 error [*] '.eval' is never called, so nothing happens. Add '()': '.eval()'\n  |\n4 | model.eval\n  | ^^^^^^^^^^ GL105\n  |\n" in out


def test_grouped_format_groups_by_file_with_aligned_positions(cli, project):
    result = check(cli, "--output-format", "grouped", "b.py", "warn.py", cwd=project)
    assert result.code == 1
    assert result.out.splitlines()[:8] == [
        "b.py:",
        "   1:1 GL105 error [*] '.eval' is never called, so nothing happens. Add '()': '.eval()'",
        "  11:1 GL105 error [*] '.train' is never called, so nothing happens. Add '()': '.train()'",
        "",
        "warn.py:",
        "  3:5 GL312 warning 'checkpoint' without 'use_reentrant=' runs the reentrant variant: if no input requires grad, "
        "the wrapped layers get no gradient. Pass 'use_reentrant=False'",
        "",
        "Found 2 errors and 1 warning.",
    ]


# --------------------------------------------------------------------------------------------------------
# colour


@pytest.mark.parametrize("fmt", ["full", "concise", "grouped"])
def test_no_colour_when_piped(cli, project, fmt):
    assert "\x1b[" not in check(cli, "--output-format", fmt, "mixed.py", cwd=project).out


@pytest.mark.parametrize("fmt", ["full", "concise", "grouped"])
def test_force_color_colours_a_pipe(cli, project, fmt):
    out = check(cli, "--output-format", fmt, "mixed.py", cwd=project, env={"FORCE_COLOR": "1"}).out
    assert "\x1b[1;31merror\x1b[0m" in out and "\x1b[1;33mwarning\x1b[0m" in out and "\x1b[1;36mhint\x1b[0m" in out
    # without its escapes, the coloured report is the plain one
    import re

    plain = check(cli, "--output-format", fmt, "mixed.py", cwd=project).out
    assert re.sub(r"\x1b\[[0-9;]*m", "", out) == plain


def test_no_color_wins_over_force_color(cli, project):
    out = check(cli, "mixed.py", cwd=project, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).out
    assert "\x1b[" not in out


def test_empty_force_color_does_not_force(cli, project):
    assert "\x1b[" not in check(cli, "mixed.py", cwd=project, env={"FORCE_COLOR": ""}).out


def _run_on_a_terminal(args, cwd, env):
    """Run the CLI with its stdout on a pseudo-terminal, as a user's shell does; returns what it printed."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-m", "autogradlint", *args], cwd=cwd, stdout=slave,
                                   stderr=subprocess.PIPE, env=dict(os.environ, **env))
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        process.wait(timeout=120)
    finally:
        os.close(master)
    return b"".join(chunks).decode("utf-8", "replace"), process.returncode


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_colour_on_a_terminal_and_no_color_respected_there(project):
    out, code = _run_on_a_terminal(["check", "--no-cache", "warn.py"], project, dict(NO_COLOUR_ENV))
    assert code == 1 and "\x1b[1;33mwarning\x1b[0m" in out
    out, code = _run_on_a_terminal(["check", "--no-cache", "warn.py"], project, dict(NO_COLOUR_ENV, NO_COLOR="1"))
    assert code == 1 and "\x1b[" not in out and "GL312 warning" in out
    out, code = _run_on_a_terminal(["check", "--no-cache", "warn.py"], project, dict(NO_COLOUR_ENV, TERM="dumb"))
    assert "\x1b[" not in out
    # machine formats are never coloured, even on a terminal
    out, code = _run_on_a_terminal(["check", "--no-cache", "--output-format", "json", "warn.py"], project, dict(NO_COLOUR_ENV))
    assert "\x1b[" not in out


def test_colour_goes_by_the_stream_the_report_is_written_to(cli, project):
    # with '-' and --fix the report goes to stderr: FORCE_COLOR colours it, and the fixed source on stdout stays
    # byte-exact
    source = "import torch\nfrom torch.utils.checkpoint import checkpoint\nmodel.eval\ny = checkpoint(f, x)\n"
    result = cli("check", "--no-cache", "--fix", "--stdin-filename", "x.py", "-", cwd=project, stdin=source,
                 env=dict(NO_COLOUR_ENV, FORCE_COLOR="1"))
    assert result.code == 1
    assert result.out == source.replace("model.eval\n", "model.eval()\n")
    assert "\x1b[1;33mwarning\x1b[0m" in result.err
