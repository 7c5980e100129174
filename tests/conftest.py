import os
import subprocess
import sys
from pathlib import Path

import pytest

from autogradlint.engine import lint_source
from autogradlint.rule import all_rules

ROOT = Path(__file__).resolve().parent.parent


def example_version(example):
    """The torch version an example is linted for, as lint_source takes it."""
    from autogradlint.analysis.torch_versions import NEWEST, parse_version

    return NEWEST if example.torch_version is None else parse_version(example.torch_version)


def example_rules(rule):
    """The rules a rule's examples are linted with: itself and those it names in ``examples_run_with``."""
    return [rule] + [all_rules()[code] for code in rule.examples_run_with]


def lint(source, rules=None, path="example.py", torch_version=None):
    """Findings of ``rules`` on ``source``, linted for ``torch_version`` (default: the newest). The default rules
    are every rule about code: all but unused-noqa (GL003), which judges the noqa comments the tests write."""
    from autogradlint.analysis.torch_versions import NEWEST
    from autogradlint.rule import UNUSED_NOQA

    if isinstance(source, str):
        source = source.encode("utf-8")
    selected = [r for r in all_rules().values() if r.code != UNUSED_NOQA[0]] if rules is None else rules
    return lint_source(source, path, selected, torch_version or NEWEST)


def run_autogradlint(*args, cwd=None, stdin=None, env=None, prefix=(), script=None, timeout=300):
    """Run the real CLI in a subprocess (under a command ``prefix``, or as a wrapper ``script`` that runs it);
    returns CompletedProcess with bytes stdout/stderr. It cannot hang a test: killed after ``timeout`` seconds."""
    full_env = dict(os.environ)
    full_env.pop("FORCE_COLOR", None)  # a CI that forces colour must not colour the output the tests compare
    full_env.update(env or {})
    command = [sys.executable, str(script)] if script is not None else [sys.executable, "-m", "autogradlint"]
    return subprocess.run(
        [*prefix, *command, *args],
        cwd=cwd,
        input=stdin if isinstance(stdin, (bytes, type(None))) else stdin.encode("utf-8"),
        capture_output=True,
        env=full_env,
        timeout=timeout,
    )


class Result:
    def __init__(self, completed):
        self.code = completed.returncode
        self.out = completed.stdout.decode("utf-8", errors="replace")
        self.err = completed.stderr.decode("utf-8", errors="replace")


@pytest.fixture
def cli():
    def invoke(*args, cwd=None, stdin=None, env=None):
        return Result(run_autogradlint(*args, cwd=cwd, stdin=stdin, env=env))

    return invoke
