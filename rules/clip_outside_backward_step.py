from autogradlint.analysis.training import BACKWARD, CLIP, training_facts
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class ClipOutsideBackwardStep(Rule):
    """
    ## What it does
    Flags `torch.nn.utils.clip_grad_norm_` / `clip_grad_value_` called before the iteration's
    `backward()`, or after the optimizer's `step()` with no further backward and step, in the
    straight-line code of one iteration (also through helper functions of the same file). A
    `clip_grad_norm_(params, float("inf"))` clips nothing: it only measures the norm (for logging) and is
    not flagged.

    ## Why is this bad?
    Clipping changes `.grad` in place; it only affects the update if it runs after `backward()` has
    filled the gradients and before `step()` applies them. Clipping before `backward()` clips the old
    (usually already cleared) gradients; clipping after `step()` clips gradients that are about to be
    cleared. Either way the update is unclipped and exploding gradients go through.

    ## Example
    ```python
    optimizer.zero_grad()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    loss.backward()
    optimizer.step()
    ```

    ## Use instead
    ```python
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    ```

    ## Fix safety
    No fix: the call must move, and with a GradScaler `scaler.unscale_(optimizer)` must come first.
    """

    code = "GL503"
    name = "clip-outside-backward-step"
    severity = "warning"
    message = "clipping {where} has no effect on the update. Clip between backward() and the optimizer's step()"
    triggers = ("clip_grad",)
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nfor x in loader:\n    opt.zero_grad()\n    model(x).sum().backward()\n"
              "    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n    opt.step()\n"),
        Valid("import torch\nscaler.scale(loss).backward()\nscaler.unscale_(opt)\n"
              "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\nscaler.step(opt)\nscaler.update()\n"),
        Valid("import torch\nfor x in loader:\n    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n    opt.step()\n"
              "    opt.zero_grad()\n    model(x).sum().backward()\n", "rotated loop: clip, step, clear, backward"),
        Valid("from torch.nn.utils import clip_grad_norm_\ndef update(model, opt):\n    clip_grad_norm_(model.parameters(), 1.0)\n"
              "    opt.step()\nfor x in loader:\n    opt.zero_grad()\n    model(x).sum().backward()\n    update(model, opt)\n",
              "the helper clips right before its step"),
        Valid("import torch\nloss.backward()\nif (i + 1) % k == 0:\n    torch.nn.utils.clip_grad_value_(params, 0.5)\n"
              "    opt.step()\n    opt.zero_grad()\n"),
        Valid("import torch\nloss_d.backward()\nopt_d.step()\ntorch.nn.utils.clip_grad_norm_(gen.parameters(), 1.0)\n"
              "loss_g.backward()\nopt_g.step()\n", "not certain which gradients are meant"),
        Valid("def clip_grad_norm_(params, max_norm):\n    pass\nclip_grad_norm_(params, 1.0)\nloss.backward()\nopt.step()\n",
              "not torch's"),
        Valid("import math\nimport torch\nfor x in loader:\n    opt.zero_grad()\n    model(x).sum().backward()\n    opt.step()\n"
              "    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float('inf'))\n"
              "    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=math.inf)\n",
              "an infinite max_norm only measures the norm"),
    )
    invalid = (
        Invalid("import torch\nfor x in loader:\n    opt.zero_grad()\n    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
                "    model(x).sum().backward()\n    opt.step()\n", 4, 5),
        Invalid("from torch.nn.utils import clip_grad_norm_\ndef train(net, optim_g, data):\n    while True:\n"
                "        optim_g.zero_grad()\n        net(data).mean().backward()\n        optim_g.step()\n"
                "        clip_grad_norm_(net.parameters(), 5.0)\n", 7, 9, "after the step"),
        Invalid("import torch.nn as nn\ndef clip(model):\n    nn.utils.clip_grad_value_(model.parameters(), 0.1)\n"
                "for x in loader:\n    opt.zero_grad()\n    loss = model(x).sum()\n    loss.backward()\n    opt.step()\n"
                "    clip(model)\n", 3, 5, "through a helper"),
        Invalid("import torch\nfor x in loader:\n    opt.zero_grad()\n    if args.clip:\n"
                "        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)\n    model(x).sum().backward()\n"
                "    opt.step()\n", 5, 9, "in a conditional"),
    )
    evidence = Evidence(
        bad=("import torch\nw = torch.zeros(1, requires_grad=True)\nopt = torch.optim.SGD([w], lr=1.0)\n"
             "torch.nn.utils.clip_grad_norm_([w], 0.1)\n(w * 10).sum().backward()\nopt.step()\nprint(round(w.item(), 4))\n"),
        bad_shows=Outcome(stdout="-10.0"),
        good=("import torch\nw = torch.zeros(1, requires_grad=True)\nopt = torch.optim.SGD([w], lr=1.0)\n"
              "(w * 10).sum().backward()\ntorch.nn.utils.clip_grad_norm_([w], 0.1)\nopt.step()\nprint(round(w.item(), 4))\n"),
        good_shows=Outcome(stdout="-0.1"),
    )

    def visit_Module(self, node):
        facts = training_facts(self.context)
        if not facts.works_with_torch:
            return
        reported = set()  # a helper's call reached from several callers is reported once
        for event, frames in facts.events((CLIP,), skip=reported):
            before, after = facts.before(frames), facts.after(frames)
            where = _misplacement(facts, before, after)
            if where is not None:
                reported.add(id(event.node))
                self.report(event.node, self.message.format(where=where))


def _misplacement(facts, before, after):
    """'before backward()' / 'after step()' when the clip certainly sits there, else None."""
    steps_before = [i for i, e in enumerate(before) if facts.is_optimizer_step(e, before[:i])]
    backwards_before = [i for i, e in enumerate(before) if e.kind == BACKWARD]
    backwards_after = [i for i, e in enumerate(after) if e.kind == BACKWARD]
    steps_after = [i for i, e in enumerate(after) if facts.is_optimizer_step(e, before + after[:i])]
    if not backwards_before and backwards_after:
        first_backward = backwards_after[0]
        if steps_after and steps_after[0] > first_backward:
            return "before backward()"
        return None
    if steps_before and backwards_before and backwards_before[0] < steps_before[-1] \
            and backwards_before[-1] < steps_before[-1] and not backwards_after and not steps_after:
        return "after step()"
    return None
