from autogradlint.analysis.training import BACKWARD, ZERO_GRAD, training_facts
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class ZeroGradBetweenBackwardAndStep(Rule):
    """
    ## What it does
    Flags `zero_grad()` called after `backward()` and before the `step()` of the optimizer it clears,
    in straight-line code of one iteration (also through helper functions of the same file).

    ## Why is this bad?
    `zero_grad()` wipes the gradients `backward()` just computed (by default it sets them to `None`),
    so the following `step()` has nothing to apply: the model never learns. In a GAN, clearing one
    network's gradients between the other network's backward and step is fine and not flagged, and
    so is clearing before the next `backward()`.

    ## Example
    ```python
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    ```

    ## Use instead
    ```python
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    ```

    ## Fix safety
    No fix: moving the call changes the order of the iteration, which the author must confirm.
    """

    code = "GL502"
    name = "zero-grad-between-backward-and-step"
    severity = "error"
    message = ("'{call}' after backward() and before '{optimizer}.step()' wipes the gradients: the step "
               "learns nothing. Clear before backward() or after the step")
    triggers = ("zero_grad",)
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nfor x in loader:\n    optimizer.zero_grad()\n    model(x).sum().backward()\n    optimizer.step()\n"),
        Valid("import torch\nfor x in loader:\n    model(x).sum().backward()\n    optimizer.step()\n    optimizer.zero_grad()\n",
              "zero_grad at the end of the iteration"),
        Valid("import torch\nopt_g.zero_grad()\ng_loss.backward()\nopt_d.zero_grad()\nd_loss.backward()\nopt_d.step()\nopt_g.step()\n",
              "GAN: clearing the discriminator's gradients before its own backward"),
        Valid("import torch\nd_loss.backward()\nopt_d.step()\nopt_g.zero_grad()\ng_loss.backward()\nopt_g.step()\n"),
        Valid("import torch\nfor x in loader:\n    loss = model(x)\n    loss.backward()\n    if not torch.isfinite(loss):\n"
              "        optimizer.zero_grad()\n        continue\n    optimizer.step()\n",
              "skipping a bad batch"),
        Valid("import torch\nloss.backward()\nif (i + 1) % k == 0:\n    optimizer.step()\n    optimizer.zero_grad()\n",
              "gradient accumulation"),
        Valid("import torch\nloss_a.backward()\nopt_b.zero_grad()\nopt_a.step()\n", "clears another optimizer"),
    )
    invalid = (
        Invalid("import torch\nfor x in loader:\n    loss = model(x).sum()\n    loss.backward()\n    optimizer.zero_grad()\n"
                "    optimizer.step()\n", 5, 5),
        Invalid("import torch as th\ndef train(net, data):\n    opt = th.optim.SGD(net.parameters(), lr=0.1)\n"
                "    while True:\n        net(data).mean().backward()\n        opt.zero_grad(set_to_none=True)\n        opt.step()\n", 6, 9),
        Invalid("import torch\ndef clear(o):\n    o.zero_grad()\nfor x in loader:\n    gen(x).mean().backward()\n    clear(optim_g)\n"
                "    optim_g.step()\n", 3, 5, "through a helper"),
        Invalid("import torch\nnet = Net()\nopt = torch.optim.Adam(net.parameters())\nfor x in loader:\n    net(x).mean().backward()\n"
                "    net.zero_grad()\n    opt.step()\n", 6, 5, "the model whose parameters the optimizer holds"),
        Invalid("import torch\nclass Trainer:\n    def step(self, batch):\n        with torch.autocast('cpu'):\n"
                "            loss = self.model(batch)\n        self.scaler.scale(loss).backward()\n        self.optimizer.zero_grad()\n"
                "        self.scaler.step(self.optimizer)\n", 7, 9),
    )
    evidence = Evidence(
        bad=("import torch\nmodel = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
             "before = model.weight.clone()\nmodel(torch.ones(1, 2)).sum().backward()\nopt.zero_grad()\nopt.step()\n"
             "print(torch.equal(before, model.weight))\n"),
        bad_shows=Outcome(stdout="True"),
        good=("import torch\nmodel = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
              "before = model.weight.clone()\nopt.zero_grad()\nmodel(torch.ones(1, 2)).sum().backward()\nopt.step()\n"
              "print(torch.equal(before, model.weight))\n"),
        good_shows=Outcome(stdout="False"),
    )

    def visit_Module(self, node):
        facts = training_facts(self.context)
        if not facts.works_with_torch:
            return
        reported = set()  # a helper's call reached from several callers is reported once
        for event, frames in facts.events((ZERO_GRAD,), skip=reported):
            if event.receiver is None:
                continue
            before = facts.before(frames)
            if not _last_update_is_backward(facts, before):
                continue
            optimizer = _next_step(facts, before + [event], facts.after(frames))
            if optimizer is not None and facts.clears_gradients_of(event.receiver, optimizer):
                call = self.context.module.code_for_node(event.node)
                reported.add(id(event.node))
                self.report(event.node, self.message.format(call=call, optimizer=optimizer))


def _last_update_is_backward(facts, before) -> bool:
    """Among the events before, the last backward or optimizer step is a backward."""
    for index in range(len(before) - 1, -1, -1):
        event = before[index]
        if event.kind == BACKWARD:
            return True
        if facts.is_optimizer_step(event, before[:index]):
            return False
    return False


def _next_step(facts, before, after):
    """The optimizer stepped next, if a step comes before any further backward."""
    for index, event in enumerate(after):
        if event.kind == BACKWARD:
            return None
        if facts.is_optimizer_step(event, before + after[:index]):
            return facts.stepped_optimizer(event)
    return None
