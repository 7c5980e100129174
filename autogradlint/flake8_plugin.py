"""autogradlint as a flake8 plugin: the ``GL`` codes in flake8's own run, selection, ``# noqa`` and output.

Registered under the ``flake8.extension`` entry point group as ``GL``. The plugin runs every rule and leaves
the choice to flake8 (``--select``, ``--extend-select``, ``--ignore``, ``--extend-ignore``, ``--per-file-ignores``
with ``GL`` codes); ``[tool.autogradlint]`` is not read, as flake8 users configure flake8. Rules off by
default in autogradlint are added to flake8's default ignore list, so flake8's selection starts where
autogradlint's does. Positions are the
ones ``autogradlint check`` prints: flake8 takes a plugin's column 0-based and prints it plus one, so the plugin
hands it the 1-based column minus one. A file that does not parse is flake8's own ``E999``; the plugin does
not repeat it as GL001. The torch release the rules lint for is ``autogradlint check``'s (``torch-version`` in
``[tool.autogradlint]``, else the project's pin, else the newest) unless ``--autogradlint-torch-version`` says.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from autogradlint import __version__
from autogradlint.analysis.torch_versions import NEWEST, TorchVersion
from autogradlint.documents import source_bytes
from autogradlint.rule import SYNTAX_ERROR, rule_index

def torch_version_for(value: Optional[str]) -> TorchVersion:
    """The torch release to lint for: ``value`` (flake8's ``--autogradlint-torch-version``), else as
    ``autogradlint check`` decides it (``torch-version`` in ``[tool.autogradlint]``, the project's torch pin,
    the newest). A bad value stops flake8 with one line; a broken ``[tool.autogradlint]`` (which flake8 does not
    otherwise read) is set aside for the project's pin."""
    from autogradlint.config import ConfigError, Settings, effective_torch_version, load_settings, parse_torch_version

    cwd = Path.cwd()
    if value:
        try:
            return parse_torch_version(value.strip(), "--autogradlint-torch-version")
        except ConfigError as error:
            raise SystemExit(f"flake8: error: {error}") from None
    try:
        return effective_torch_version(load_settings(None, cwd), None, cwd)[0]  # finds the nearest config itself
    except ConfigError:
        return effective_torch_version(Settings(root=cwd), None, cwd)[0]


def off_by_default() -> List[str]:
    """Codes of the rules autogradlint leaves out of its default selection."""
    return [rule.code for rule in rule_index().values() if not getattr(rule, "default", True)]


class Plugin:
    """flake8's tree-plugin protocol: built with the file's tree, name and lines; ``run`` yields
    ``(line, column, "GLxxx message", type)`` with a 0-based column."""

    name = "autogradlint"
    version = __version__
    # the torch release the rules lint for (set by parse_options from flake8's options)
    torch_version: TorchVersion = NEWEST

    @classmethod
    def add_options(cls, parser) -> None:
        """``--autogradlint-torch-version`` (also ``autogradlint-torch-version`` in flake8's configuration).
        Rules off by default in autogradlint are in flake8's default ignore list too: on only when flake8's
        selection names them (``--extend-select GL309``, ``--select GL``)."""
        parser.add_option(
            "--autogradlint-torch-version", metavar="X.Y", default=None, parse_from_config=True,
            help="the torch release autogradlint's GL rules lint for (default: torch-version in [tool.autogradlint], "
                 "else the project's torch pin, else the newest release)",
        )
        off = off_by_default()
        if off:
            parser.extend_default_ignore(off)

    @classmethod
    def parse_options(cls, options) -> None:
        cls.torch_version = torch_version_for(getattr(options, "autogradlint_torch_version", None))

    def __init__(self, tree, filename: str, lines: List[str]) -> None:
        # flake8 has parsed the file (tree) already; autogradlint reads it with LibCST from the same text
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[Tuple[int, int, str, type]]:
        from autogradlint.runner import DEFAULT_FILE_TIMEOUT, lint_within_limit

        # a file that takes too long is one GL000 finding, as in 'autogradlint check', not a hung flake8 run
        findings = lint_within_limit(source_bytes("".join(self.lines))[0], self.filename, list(rule_index().values()),
                                     DEFAULT_FILE_TIMEOUT, self.torch_version)
        for d in findings:
            if d.code == SYNTAX_ERROR[0]:
                continue  # flake8 reports the file's syntax error itself (E999)
            yield d.line, d.column - 1, f"{d.code} {d.message}", type(self)
