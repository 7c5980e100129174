from autogradlint.analysis.training import BACKWARD, CLIP, SCALER_STEP, STEP, UNSCALE, training_facts
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class AmpClipWithoutUnscale(Rule):
    """
    ## What it does
    With a `GradScaler` (`torch.amp.GradScaler`, `torch.cuda.amp.GradScaler`): flags gradient clipping
    after `scaler.scale(loss).backward()` with no `scaler.unscale_(optimizer)` before it, and an
    `optimizer.step()` called directly after a scaled backward instead of `scaler.step(optimizer)`.

    ## Why is this bad?
    After `scaler.scale(loss).backward()` every gradient is multiplied by the scale (65536 at the
    start): clipping to a norm of 1.0 then compares against gradients 65536 times too large, so the
    threshold means nothing. A direct `optimizer.step()` applies those scaled gradients, skips the
    inf/NaN check, and the following `scaler.update()` raises
    `AssertionError: No inf checks were recorded prior to update`.

    ## Example
    ```python
    scaler.scale(loss).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
    ```

    ## Use instead
    ```python
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
    ```

    ## Fix safety
    No fix: the optimizer to unscale cannot always be told from the clip call.
    """

    code = "GL504"
    name = "amp-clip-without-unscale"
    severity = "warning"
    message = ("clipping after '{scaler}.scale(loss).backward()' acts on gradients multiplied by the loss scale: "
               "the threshold is meaningless. Call '{scaler}.unscale_(optimizer)' before clipping")
    step_message = ("'{optimizer}.step()' after '{scaler}.scale(loss).backward()' applies the scaled gradients "
                    "and skips the inf check ('{scaler}.update()' then raises). Use '{scaler}.step({optimizer})'")
    triggers = ("scaler",)
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nscaler = torch.amp.GradScaler()\nfor x in loader:\n    opt.zero_grad()\n"
              "    scaler.scale(model(x).sum()).backward()\n    scaler.unscale_(opt)\n"
              "    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n    scaler.step(opt)\n    scaler.update()\n"),
        Valid("import torch\nif use_amp:\n    scaler.scale(loss).backward()\n    scaler.step(opt)\n    scaler.update()\nelse:\n"
              "    loss.backward()\n    torch.nn.utils.clip_grad_norm_(params, 1.0)\n    opt.step()\n", "the plain branch"),
        Valid("import torch\nscaler.scale(loss).backward()\nif clip:\n    scaler.unscale_(optimizer)\n"
              "    torch.nn.utils.clip_grad_norm_(params, clip)\nscaler.step(optimizer)\nscaler.update()\n"),
        Valid("import torch\nscaler = torch.amp.GradScaler(enabled=False)\nscaler.scale(loss).backward()\n"
              "torch.nn.utils.clip_grad_norm_(params, 1.0)\nscaler.step(opt)\n", "a disabled scaler does not scale"),
        Valid("import torch\nscaler.scale(loss).backward()\nscaler.step(opt)\nscaler.update()\nscheduler.step()\n"),
        Valid("import torch\naccelerator.backward(loss)\naccelerator.clip_grad_norm_(model.parameters(), 1.0)\n"
              "optimizer.step()\n", "accelerate unscales inside its own clip"),
    )
    invalid = (
        Invalid("import torch\nscaler = torch.cuda.amp.GradScaler()\nfor x in loader:\n    opt.zero_grad()\n"
                "    scaler.scale(model(x).sum()).backward()\n    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
                "    scaler.step(opt)\n    scaler.update()\n", 6, 5),
        Invalid("from torch.amp import GradScaler\nfrom torch.nn.utils import clip_grad_value_\ngs = GradScaler('cuda')\n"
                "def train(net, optim_g, data):\n    while True:\n        gs.scale(net(data).mean()).backward()\n"
                "        clip_grad_value_(net.parameters(), 0.5)\n        gs.step(optim_g)\n        gs.update()\n", 7, 9),
        Invalid("import torch\nclass Trainer:\n    def step(self, loss):\n        self.scaler.scale(loss).backward()\n"
                "        self.optimizer.step()\n        self.scaler.update()\n", 5, 9, "direct optimizer step"),
        Invalid("import torch\ndef clip(model):\n    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
                "for x in loader:\n    opt.zero_grad()\n    scaler.scale(model(x).sum()).backward()\n    clip(model)\n"
                "    scaler.step(opt)\n    scaler.update()\n", 3, 5, "clipping through a helper"),
    )
    evidence = Evidence(
        bad=("import torch\nmodel = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
             "scaler = torch.amp.GradScaler('cpu')\nscaler.scale(model(torch.ones(1, 2)).sum()).backward()\n"
             "opt.step()\nscaler.update()\n"),
        bad_shows=Outcome(raises="AssertionError", message="No inf checks were recorded"),
        good=("import torch\nmodel = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
              "scaler = torch.amp.GradScaler('cpu')\nscaler.scale(model(torch.ones(1, 2)).sum()).backward()\n"
              "scaler.unscale_(opt)\nprint(model.weight.grad.tolist())\nscaler.step(opt)\nscaler.update()\n"),
        good_shows=Outcome(stdout="[[1.0, 1.0]]"),
    )

    def visit_Module(self, node):
        facts = training_facts(self.context)
        if not facts.works_with_torch:
            return
        reported = set()  # a helper's call reached from several callers is reported once
        for event, frames in facts.events((CLIP, STEP), skip=reported):
            before = facts.before(frames)
            scaled = _pending_scaled_backward(facts, before)
            if scaled is None:
                continue
            scaler = scaled.scaler
            if event.kind == CLIP:
                if not _unscales_nearby(facts, frames):
                    reported.add(id(event.node))
                    self.report(event.node, self.message.format(scaler=scaler))
            elif facts.is_optimizer_event(event):
                reported.add(id(event.node))
                self.report(event.node, self.step_message.format(optimizer=event.receiver, scaler=scaler))


def _pending_scaled_backward(facts, before):
    """The last backward before, if it went through an enabled GradScaler and no unscale_ or
    scaler.step has followed it yet."""
    for event in reversed(before):
        if event.kind in (UNSCALE, SCALER_STEP):
            return None
        if event.kind == BACKWARD:
            if event.scaler is None or event.scaler in facts.disabled_scalers:
                return None
            return event
    return None


def _unscales_nearby(facts, frames) -> bool:
    """An unscale_ anywhere in the innermost loop body or function around the clip (even in a branch)."""
    for block, _ in reversed(frames):
        if block.kind in ("loop", "root"):
            return any(e.kind == UNSCALE for e in facts.events_in(block))
    return False
