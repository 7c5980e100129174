"""The command line: ``autogradlint check``, ``autogradlint rule``, ``autogradlint rules``, ``autogradlint server``.

Exit codes follow ruff: 0 nothing found, 1 findings, 2 usage, configuration or internal error.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from autogradlint import __version__
from autogradlint.config import (OUTPUT_FORMATS, ConfigError, Settings, effective_torch_version, load_settings,
                                 nearest_config, parse_torch_version, per_file_rules)
from autogradlint.discovery import discover, display_path, printable
from autogradlint.cache import CACHE_DIR_NAME, Cache, default_cache_dir
from autogradlint.runner import (CHECK, DEFAULT_FILE_TIMEOUT, DIFF, FIX, FileJob, FileOutcome, process_source, run_files,
                                 too_large)
from autogradlint.report import HUMAN_FORMATS, counted, renderer, summary
from autogradlint.rule import (
    INTERNAL_ERROR,
    Diagnostic,
    RuleInfo,
    SelectionLayer,
    applicable,
    UnknownSelector,
    all_rules,
    find_rule,
    resolve_selection,
    rules_matching,
    trust_stored_index,
)

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    pass


def _selectors(values: Optional[List[str]]) -> Optional[List[str]]:
    """Flags may repeat and hold comma-separated lists."""
    if values is None:
        return None
    out: List[str] = []
    for value in values:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's own, given the terminal's width as argparse measures it, but without importing shutil for
    it (argparse makes a formatter for every argument it adds, and shutil brings bz2 and lzma: 4 ms of a
    cached run)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: Optional[int] = None) -> None:
        if width is None:
            width = _terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


def _terminal_columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else the terminal's width, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autogradlint", description="A linter for PyTorch gradient-control pitfalls.", formatter_class=_HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"autogradlint {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", formatter_class=_HelpFormatter, help="lint files or directories (default: .)")
    check.add_argument("paths", nargs="*", metavar="PATH", help="files or directories; '-' reads standard input")
    check.add_argument("--select", action="append", metavar="CODES", help="rules to enable (codes, prefixes or names; replaces the configured set)")
    check.add_argument("--extend-select", action="append", metavar="CODES", help="rules to enable on top of the selection")
    check.add_argument("--ignore", action="append", metavar="CODES", help="rules to disable")
    check.add_argument("--output-format", choices=OUTPUT_FORMATS, help="how to print findings (default: full; see the README's 'CI and code review')")
    check.add_argument("--stdin-filename", metavar="NAME", help="the name of the file read from standard input")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    check.add_argument("--statistics", action="store_true", help="print how many findings each rule has, not the findings")
    check.add_argument("--fix", action="store_true", default=None, help="apply safe fixes")
    check.add_argument("--no-fix", dest="fix", action="store_false", help="do not fix (overrides fix = true)")
    check.add_argument("--unsafe-fixes", action="store_true", default=None, help="also apply fixes that may change behaviour")
    check.add_argument("--no-unsafe-fixes", dest="unsafe_fixes", action="store_false", help="only safe fixes")
    check.add_argument("--diff", action="store_true", help="print the diff --fix would make; write nothing (exit 1 when there is one)")
    check.add_argument("--show-fixes", action="store_true", help="list what --fix fixed")
    check.add_argument("--jobs", "-j", type=_positive_int, metavar="N", help="worker processes (default: all cores)")
    check.add_argument("--file-timeout", type=_seconds, default=DEFAULT_FILE_TIMEOUT, metavar="SECONDS",
                       help=f"report a file that takes longer than this to lint, and go on (default: {DEFAULT_FILE_TIMEOUT:g}; 0: no limit)")
    check.add_argument("--max-file-size", type=_size, metavar="SIZE",
                       help=f"report a larger file (GL002) instead of parsing it; bytes or e.g. 4MB (default: {_DEFAULT_SIZE}; 0: no limit)")
    check.add_argument("--no-cache", action="store_true", help="do not read or write the result cache")
    check.add_argument("--cache-dir", metavar="DIR", help=f"where to keep the cache (default: {CACHE_DIR_NAME} in the project root)")
    check.add_argument("--config", metavar="PATH", help="the pyproject.toml to use instead of the nearest one")
    check.add_argument("--torch-version", type=_torch_version, metavar="X.Y",
                       help="the torch release to lint for (default: torch-version in the configuration, else the "
                            "lowest release the project's torch pin admits, else the newest)")
    check.add_argument("--show-settings", action="store_true",
                       help="print the effective settings (configuration file, torch version, selected rules) and exit")
    check.add_argument("--no-respect-gitignore", action="store_true", help="lint files that .gitignore excludes")
    check.add_argument("--include", action="append", metavar="PATTERNS",
                       help="the files directory walks lint (replaces the configured set; default: *.py,*.ipynb)")
    check.add_argument("--extend-include", action="append", metavar="PATTERNS",
                       help="more files for directory walks to lint (e.g. '*.pyw')")
    check.add_argument("--force-exclude", action="store_true", help="apply exclude patterns to files named on the command line too")

    clean = commands.add_parser("clean", formatter_class=_HelpFormatter, help=f"remove the result cache ({CACHE_DIR_NAME})")
    clean.add_argument("--cache-dir", metavar="DIR", help="the cache directory to remove")

    rule = commands.add_parser("rule", formatter_class=_HelpFormatter, help="print a rule's documentation")
    rule.add_argument("rule", metavar="CODE|NAME")

    rules = commands.add_parser("rules", formatter_class=_HelpFormatter, help="list every rule")
    rules.add_argument("--json", action="store_true", help="print the list as JSON")

    commands.add_parser("server", formatter_class=_HelpFormatter,
                        help="run the language server (LSP over stdio; needs autogradlint[server])")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        code = _run(parser, args)
        sys.stdout.flush()  # here, not at exit: a reader that went away is noticed below
        return code
    except (ConfigError, UsageError) as error:
        print(f"autogradlint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _broken_pipe()
    except Exception as error:  # a bug of autogradlint's own: one clear line, never a traceback
        print(f"autogradlint: internal error: {type(error).__name__}: {error}. Please report this.", file=sys.stderr)
        return EXIT_ERROR


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "check":
        return _check(args)
    if args.command == "rule":
        return _rule(args)
    if args.command == "clean":
        return _clean(args)
    if args.command == "rules":
        return _rules(args)
    if args.command == "server":
        return _server()
    parser.print_help(sys.stderr)
    return EXIT_ERROR


# the exit status of a run whose output was cut short where there is no SIGPIPE (Windows)
EXIT_BROKEN_PIPE = EXIT_ERROR


def _broken_pipe() -> int:
    """The reader of the output went away (``autogradlint check . | head -1``). The output was cut short, so
    the run must not look clean (it used to exit 0): as cat, grep or git, the process ends by SIGPIPE (a
    shell reports 141; ``set -o pipefail`` fails), printing nothing else. Where there is no SIGPIPE, exit 2."""
    try:
        # Python flushes stdout once more on the way out: let that write go nowhere instead of failing
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    import signal

    if hasattr(signal, "SIGPIPE") and hasattr(os, "kill"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGPIPE)
    return EXIT_BROKEN_PIPE


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


_DEFAULT_SIZE = "2MB"  # files.DEFAULT_MAX_FILE_SIZE, written here so that --help imports nothing more


def _size(text: str) -> int:
    from autogradlint.files import parse_size

    try:
        return parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of bytes or a size such as 4MB, got {text!r}") from None


def _torch_version(text: str):
    try:
        return parse_torch_version(text, "--torch-version")
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error).replace("--torch-version ", "", 1)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds, 0 or more")
    return value


def _clean(args: argparse.Namespace) -> int:
    """Remove the cache: only the files it wrote, and its folder once empty (see cache.clean); never a
    folder holding anything else."""
    from autogradlint.cache import clean

    cwd = Path.cwd()
    if args.cache_dir:
        directory = Path(args.cache_dir)
    else:
        try:
            settings = load_settings(None, cwd)
            directory = default_cache_dir(settings.root)
        except ConfigError:
            directory = default_cache_dir(cwd)
    try:
        removed = clean(directory)
    except OSError as error:
        raise UsageError(f"cannot remove the cache in {directory}: {error.strerror or error}") from None
    for what in removed:
        print(f"Removed {what}", file=sys.stderr)
    return EXIT_CLEAN


def _server() -> int:
    """The language server; pygls and lsprotocol come with the ``server`` extra."""
    try:
        import lsprotocol.types  # noqa: F401
        import pygls.lsp.server  # noqa: F401
    except ImportError as error:
        raise UsageError(f"the language server needs pygls and lsprotocol ({error}): "
                         "pip install 'autogradlint[server]'") from None
    from autogradlint.server import main as serve

    return serve()


def _rule(args: argparse.Namespace) -> int:
    rule = find_rule(args.rule)
    if rule is None:
        raise UsageError(f"unknown rule '{args.rule}' (see 'autogradlint rules')")
    from autogradlint.docs import rule_page

    sys.stdout.write(rule_page(rule.load()))
    return EXIT_CLEAN


def _rules(args: argparse.Namespace) -> int:
    from autogradlint.docs import default_label, fix_label

    rules = list(all_rules().values())
    if args.json:
        data = [
            {
                "code": r.code,
                "name": r.name,
                "severity": r.severity,
                "fix": r.fix_applicability,
                "default": r.default,
                "off_by_default": None if r.default else r.off_by_default,
                "summary": r.summary(),
            }
            for r in rules
        ]
        import json

        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return EXIT_CLEAN
    width = max(len(r.name) for r in rules)
    for r in rules:
        sys.stdout.write(f"{r.code}  {r.name:<{width}}  {r.severity:<7}  {fix_label(r):<6}  {default_label(r):<3}  {r.summary()}\n")
    off = [r for r in rules if not r.default]
    if off:
        sys.stdout.write("\nOff by default (select by code, prefix or ALL):\n")
        for r in off:
            sys.stdout.write(f"  {r.code} {r.name}: {r.off_by_default}\n")
    return EXIT_CLEAN


def _cli_layer(args: argparse.Namespace) -> SelectionLayer:
    layer = SelectionLayer(
        select=_selectors(args.select),
        extend_select=_selectors(args.extend_select) or [],
        ignore=_selectors(args.ignore) or [],
    )
    if layer.select is not None and not layer.select:
        raise UsageError("--select: no rule code given: an empty selection would check nothing (see 'autogradlint rules')")
    for flag, values in (("--select", layer.select or []), ("--extend-select", layer.extend_select), ("--ignore", layer.ignore)):
        for value in values:
            try:
                rules_matching(value)
            except UnknownSelector:
                raise UsageError(f"{flag}: unknown rule code or name '{value}' (see 'autogradlint rules')") from None
    return layer


def _check(args: argparse.Namespace) -> int:
    cwd = Path.cwd()
    config_path, parsed = (Path(args.config), None) if args.config else nearest_config(cwd)
    root = config_path.parent.resolve() if config_path is not None else cwd.resolve()
    cache = None
    if not args.no_cache:
        # opened before the configuration is read: the configuration's rule selectors need the rule index
        cache = Cache(Path(args.cache_dir) if args.cache_dir else default_cache_dir(root))
        if cache.warning:
            print(f"autogradlint: warning: {cache.warning}", file=sys.stderr)
        if cache.index_current:
            trust_stored_index()  # autogradlint's sources are unchanged since a run found the rule index current
    settings = load_settings(config_path, cwd, parsed) if config_path is not None else Settings(root=root)
    for warning in settings.warnings:
        print(f"autogradlint: warning: {warning}", file=sys.stderr)
    if args.no_respect_gitignore:
        settings.respect_gitignore = False
    if args.include:
        settings.include = _selectors(args.include)
    if args.extend_include:
        settings.extend_include = settings.extend_include + _selectors(args.extend_include)
    output_format = args.output_format or settings.output_format
    unsafe = settings.unsafe_fixes if args.unsafe_fixes is None else args.unsafe_fixes
    fix = settings.fix if args.fix is None else args.fix
    mode = DIFF if args.diff else (FIX if fix else CHECK)
    max_size = settings.max_file_size if args.max_file_size is None else args.max_file_size

    paths = list(args.paths) or ["."]
    use_stdin = "-" in paths
    if use_stdin and len(paths) > 1:
        raise UsageError("'-' (standard input) cannot be combined with other paths")
    if args.stdin_filename and not use_stdin:
        # ruff reads stdin when --stdin-filename is given without paths
        if args.paths:
            raise UsageError("--stdin-filename is given but the paths do not include '-'")
        use_stdin = True

    if mode != CHECK or use_stdin:
        cache = None  # results are cached for checks of files only
    selected = resolve_selection([settings.file_layer, _cli_layer(args)])
    if not selected:
        raise UsageError("no rule is selected (the ignores remove every selected rule): nothing would be checked")
    torch_version, torch_source = effective_torch_version(settings, args.torch_version, cwd)
    if args.show_settings:
        _show_settings(settings, torch_version, torch_source, selected, output_format, fix, unsafe)
        return EXIT_CLEAN

    outcomes: List[FileOutcome] = []
    discovery_errors: List[str] = []
    stdin_fixed: Optional[bytes] = None
    if use_stdin:
        name = printable(args.stdin_filename or "-")
        from autogradlint.documents import file_size_limit

        read_limit = file_size_limit(name, max_size)  # a notebook's outputs are not its code
        data = sys.stdin.buffer.read(read_limit + 1) if read_limit else sys.stdin.buffer.read()
        rules = per_file_rules(name, name, settings, selected)
        if read_limit and len(data) > read_limit:
            outcome = FileOutcome(name, [too_large(name, len(data), read_limit)])  # the rest is not held in memory
            if mode == FIX:  # the buffer goes back unchanged, streamed
                import shutil

                sys.stdout.buffer.write(data)
                shutil.copyfileobj(sys.stdin.buffer, sys.stdout.buffer)
                stdin_fixed = b""
        else:
            outcome = process_source(data, name, rules, mode, unsafe, args.file_timeout, torch_version, max_size)
            if mode == FIX:
                # as ruff: the fixed buffer goes to stdout, the findings left to stderr
                stdin_fixed = outcome.new_source if outcome.new_source is not None else data
        outcomes.append(outcome)
    else:
        found = discover(paths, settings, force_exclude=args.force_exclude)
        if found.missing:
            raise UsageError(f"{printable(found.missing[0])}: no such file or directory")
        for warning in found.warnings:
            print(f"autogradlint: warning: {warning}", file=sys.stderr)
        discovery_errors = found.errors
        if not found.files and args.paths and not discovery_errors:
            print("autogradlint: warning: no Python files or notebooks found under the given paths", file=sys.stderr)
        jobs = []
        where = os.getcwd()
        for path in found.files:
            display = display_path(path, where)
            jobs.append(FileJob(path, display, per_file_rules(display, path, settings, selected), max_size))
        outcomes.extend(run_files(jobs, mode, unsafe, args.jobs or os.cpu_count() or 1, cache, args.file_timeout,
                                  torch_version))

    diagnostics = sorted((d for o in outcomes for d in o.diagnostics), key=Diagnostic.sort_key)
    errors = discovery_errors + [o.error for o in outcomes if o.error]
    for outcome in outcomes:
        for note in outcome.notes:
            print(f"autogradlint: warning: {note}", file=sys.stderr)
        if outcome.warning:
            print(f"autogradlint: warning: {outcome.display}: {outcome.warning}", file=sys.stderr)
    for message in errors:
        print(f"autogradlint: error: {message}", file=sys.stderr)

    if mode == DIFF:
        changed = _print_diffs(outcomes)
        if errors or any(d.code == INTERNAL_ERROR[0] for d in diagnostics):
            return EXIT_ERROR
        return EXIT_FINDINGS if changed else EXIT_CLEAN

    if stdin_fixed is not None:
        sys.stdout.buffer.write(stdin_fixed)
        sys.stdout.flush()
        report_to = sys.stderr
    else:
        report_to = sys.stdout
    # after --fix, findings that remain are shown on the fixed text
    sources = {o.display: o.new_source if o.new_source is not None else o.source for o in outcomes if o.source is not None}
    fixed = [d for o in outcomes for d in o.fixed]
    _print(report_to, diagnostics, fixed, output_format, args.statistics, args.show_fixes, unsafe, mode, sources,
           len(errors))

    if errors or any(d.code == INTERNAL_ERROR[0] for d in diagnostics):
        return EXIT_ERROR
    if diagnostics and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _show_settings(settings: Settings, torch_version, torch_source: str, selected: List[RuleInfo],
                   output_format: str, fix: bool, unsafe: bool) -> None:
    """What ``--show-settings`` prints: the settings this run would use."""
    out = sys.stdout
    out.write(f"config file: {settings.config_path or '(none: defaults)'}\n")
    out.write(f"root: {settings.root}\n")
    out.write(f"torch version: {torch_version[0]}.{torch_version[1]} (from {torch_source})\n")
    out.write(f"output format: {output_format}\n")
    out.write(f"fix: {str(bool(fix)).lower()}, unsafe fixes: {str(bool(unsafe)).lower()}\n")
    out.write(f"selected rules ({len(selected)}): {', '.join(r.code for r in selected)}\n")


def _print_diffs(outcomes: List[FileOutcome]) -> bool:
    """Print a unified diff of what --fix would change (per changed cell in a notebook); True when there is one."""
    import difflib

    from autogradlint.documents import open_document

    changed = False
    for outcome in sorted(outcomes, key=lambda o: o.display):
        if outcome.new_source is None or outcome.source is None:
            continue
        changed = True
        before = dict(open_document(outcome.source, outcome.display).pieces())
        for cell, after_text in open_document(outcome.new_source, outcome.display).pieces():
            before_text = before.get(cell, "")
            if before_text == after_text:
                continue
            label = outcome.display if cell is None else f"{outcome.display}:cell {cell}"
            for line in difflib.unified_diff(before_text.splitlines(keepends=True), after_text.splitlines(keepends=True),
                                             fromfile=label, tofile=label):
                sys.stdout.write(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n")
    if changed:
        print(f"\nWould fix {counted([d for o in outcomes for d in o.fixed])}.", file=sys.stderr)
    return changed


def _source_lines(sources: Dict[str, bytes]):
    """path (and cell, in a notebook) -> the lines of the text shown under a finding."""
    cache: Dict[str, Dict[Optional[int], List[str]]] = {}

    def lines(path: str, cell: Optional[int] = None) -> List[str]:
        if path not in cache:
            from autogradlint.documents import open_document

            cache[path] = {key: text.splitlines() for key, text in open_document(sources.get(path, b""), path).pieces()}
        return cache[path].get(cell, [])

    return lines


def _print(out, diagnostics, fixed, output_format, statistics, show_fixes, unsafe, mode, sources, errors=0) -> None:
    """The findings in ``output_format`` and, for people, a summary; ``errors`` paths could not be read or
    written (they were reported on stderr): then the summary never says that all checks passed."""
    from autogradlint.report.style import Style, color_wanted

    style = Style(output_format in HUMAN_FORMATS and color_wanted(out))
    if statistics:
        counts = Counter((d.code, d.name) for d in diagnostics)
        rows = sorted(counts.items(), key=lambda item: (-item[1], item[0][0]))
        if output_format == "json":
            import json

            out.write(json.dumps([{"code": c, "name": n, "count": k} for (c, n), k in rows], indent=2) + "\n")
        else:
            for (code, name), count in rows:
                out.write(f"{count:>5}\t{code}\t{name}\n")
            if rows:
                out.write(summary(diagnostics) + "\n")
        return
    out.write(renderer(output_format)(diagnostics, _source_lines(sources), unsafe, style))
    if output_format not in HUMAN_FORMATS:
        return
    if show_fixes and fixed:
        out.write(f"\nFixed {counted(fixed)}:\n")
        for path in sorted({d.path for d in fixed}):
            out.write(f"- {path}:\n")
            for code, name, count in sorted((c, n, k) for (c, n), k in Counter((d.code, d.name) for d in fixed if d.path == path).items()):
                out.write(f"    {count} \u00d7 {code} ({name})\n")
    if mode == FIX and fixed:
        out.write(f"Found {counted(list(fixed) + list(diagnostics))} ({len(fixed)} fixed, {len(diagnostics)} remaining).\n")
    elif diagnostics or not errors:
        out.write(summary(diagnostics) + "\n")
    if errors:
        out.write(f"{errors} path{'s' if errors != 1 else ''} could not be checked (see the error{'s' if errors != 1 else ''} above).\n")
    fixable = sum(1 for d in diagnostics if applicable(d, unsafe))
    hidden = sum(1 for d in diagnostics if applicable(d, True) and not applicable(d, unsafe))
    if fixable:
        out.write(f"{style.paint('[*]', 'cyan')} {fixable} fixable with the `--fix` option.\n")
    if hidden:
        out.write(f"{hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled with the `--unsafe-fixes` option.\n")
