from autogradlint.rule import UNUSED_NOQA, Invalid, Rule, Valid


class UnusedNoqa(Rule):
    """
    ## What it does
    Flags the codes of a `# noqa: GL...` comment that suppress nothing: the rule they name ran on the file
    and reported nothing on that line. Opt-in, like ruff's RUF100: select it with `--extend-select GL003`
    (or `unused-noqa`, `GL0`, `ALL`).

    ## Why is this bad?
    A suppression outlives the finding it was written for (the code was fixed, the rule got smarter): it
    then hides the next real finding on that line without anyone having looked at it.

    Only what autogradlint can judge is reported:
    - a code of a rule that did not run (not selected, switched off for the file by `per-file-ignores`, or
      crashed on it) is not "unused": nothing says it would not fire (ruff calls these "non-enabled");
    - a bare `# noqa` is left alone: it is usually there for another tool (flake8, ruff) whose findings
      autogradlint cannot see; other tools' codes (`E501`, `F401`) likewise;
    - unknown `GL` codes are warned about separately (every run), and file-level `# autogradlint: noqa`
      comments are not judged.
    A `GL003` in a noqa comment suppresses this rule on that line.

    ## Example
    ```python
    model.eval()  # noqa: GL105, E501
    ```

    ## Use instead
    ```python
    model.eval()  # noqa: E501
    ```

    ## Fix safety
    Safe: the fix removes the unused codes and keeps the others; when none is left it removes the
    `noqa` directive, keeping any other text of the comment (`# noqa: GL105  # legacy` becomes `# legacy`),
    and the whole comment (or its line, when it stood alone) when nothing else is left. Removing a code that
    suppressed nothing changes no finding of the rules that ran.

    ## Default selection
    Off by default, as ruff's RUF100: it judges suppressions rather than code. Turn it on with
    `--extend-select GL003` (or `extend-select = ["GL003"]`); `--select ALL` and the prefix `GL0` include it.
    """

    code = UNUSED_NOQA[0]
    name = UNUSED_NOQA[1]
    severity = "hint"
    message = "unused noqa code: nothing on this line is reported by it. Remove it"
    triggers = ("noqa",)
    fix_applicability = "safe"
    default = False
    off_by_default = ("opt-in, as ruff's RUF100: it judges suppressions rather than code, and only the rules "
                      "selected in the same run")
    # its examples are linted with these rules: noqa comments for rules that did not run are never judged
    examples_run_with = ("GL101", "GL105")

    valid = (
        Valid("model.eval  # noqa: GL105\n", "the finding it suppresses is there"),
        Valid("model.train()  # noqa\n", "a bare noqa may be for another tool"),
        Valid("x = compute()  # noqa: E501, F401\n", "other tools' codes"),
        Valid("x = compute()  # noqa: GL309\n", "GL309 did not run"),
        Valid("model.eval()  # noqa: GL105, GL003\n", "GL003 itself is suppressed on the line"),
        Valid("# autogradlint: noqa: GL105\nmodel.eval()\n", "file-level comments are not judged"),
    )
    invalid = (
        Invalid("model.eval()  # noqa: GL105\n", 1, 23, fixed="model.eval()\n"),
        Invalid("model.eval()  # noqa: GL105, E501\n", 1, 23, "another tool's code stays", fixed="model.eval()  # noqa: E501\n"),
        Invalid("model.eval  # noqa: GL101, GL105\n", 1, 21, "GL105 is used, GL101 is not",
                fixed="model.eval  # noqa: GL105\n"),
        Invalid("model.eval()  # noqa: misspelled-requires-grad  # legacy loop\n", 1, 23, "other comment text stays",
                fixed="model.eval()  # legacy loop\n"),
        Invalid("def f(model):\n    # noqa: GL105\n    model.eval()\n", 2, 13, "a comment alone on its line goes with the line",
                fixed="def f(model):\n    model.eval()\n"),
        Invalid("model.eval()  # see issue 12  # noqa: GL101 GL105\n", 1, 39, fixed="model.eval()  # see issue 12\n"),
    )
    evidence = None  # a claim about autogradlint's comments, not about torch
