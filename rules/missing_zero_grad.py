import libcst as cst

from autogradlint.analysis.training import BACKWARD, CLEAR, SCALER_STEP, STEP, ZERO_GRAD, Compound, training_facts
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid
from autogradlint.walk import nodes_of


class MissingZeroGrad(Rule):
    """
    ## What it does
    Flags a loop whose body calls `backward()` and an optimizer's `step()` (directly or through
    helper functions of the same file) but never clears the gradients: no `optimizer.zero_grad()`,
    `model.zero_grad()`, `p.grad = None` or `p.grad.zero_()` anywhere in the loop.

    ## Why is this bad?
    `backward()` adds to `.grad`; it does not overwrite it. Without clearing, every step applies the
    sum of all gradients so far: the effective learning rate grows each iteration and training
    diverges or stalls. Gradient accumulation (the step under a condition, `zero_grad()` beside it)
    and clearing at the end of the iteration are fine and not flagged.

    ## Example
    ```python
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    ```

    ## Use instead
    ```python
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    ```

    ## Fix safety
    No fix: where to clear (top of the loop, after the step, every k steps) is the author's choice.
    """

    code = "GL501"
    name = "missing-zero-grad"
    severity = "warning"
    message = ("this loop calls backward() and '{optimizer}.step()' but never clears gradients: they add up "
               "across iterations. Call '{optimizer}.zero_grad()' in the loop")
    triggers = ("backward",)
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nfor x, y in loader:\n    optimizer.zero_grad()\n    loss = crit(model(x), y)\n"
              "    loss.backward()\n    optimizer.step()\n"),
        Valid("import torch\nfor i, (x, y) in enumerate(loader):\n    loss = crit(model(x), y) / 4\n    loss.backward()\n"
              "    if (i + 1) % 4 == 0:\n        optimizer.step()\n        optimizer.zero_grad()\n", "gradient accumulation"),
        Valid("import torch\nfor x in loader:\n    model(x).sum().backward()\n    opt.step()\n"
              "    opt.zero_grad(set_to_none=True)\n", "cleared at the end of the iteration"),
        Valid("import torch\nfor x in loader:\n    for p in model.parameters():\n        p.grad = None\n"
              "    model(x).sum().backward()\n    opt.step()\n", "p.grad = None loop"),
        Valid("import torch\ndef reset(opt):\n    opt.zero_grad()\nfor x in loader:\n    reset(optimizer)\n"
              "    model(x).sum().backward()\n    optimizer.step()\n", "cleared in a helper"),
        Valid("import torch\nfor x in loader:\n    model(x).sum().backward()\n    scheduler.step()\n",
              "a scheduler step is not an optimizer update"),
        Valid("import torch\nfor x in loader:\n    model.zero_grad()\n    model(x).sum().backward()\n    optimizer.step()\n"),
        Valid("import torch\nwhile True:\n    def closure():\n        opt.zero_grad()\n        loss = f(w)\n"
              "        loss.backward()\n        return loss\n    loss = f(w)\n    loss.backward()\n    opt.step(closure)\n",
              "closure clears"),
        Valid("import chainer\nfor x in loader:\n    loss.backward()\n    optimizer.step()\n", "not a torch file"),
        Valid("import torch\nclass SGD:\n    def __init__(self, params, lr):\n        self.params, self.lr = list(params), lr\n"
              "    def step(self):\n        with torch.no_grad():\n            for p in self.params:\n"
              "                p -= self.lr * p.grad\n                p.grad = None\n"
              "opt = SGD(model.parameters(), 0.1)\nfor x in loader:\n    model(x).sum().backward()\n    opt.step()\n",
              "a home-made optimizer: its step is its own"),
        Valid("import torch\nfor x in data:\n    model = Net()\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
              "    model(x).sum().backward()\n    opt.step()\n", "a fresh optimizer and model each iteration"),
    )
    invalid = (
        Invalid("import torch\nfor x, y in loader:\n    loss = crit(model(x), y)\n    loss.backward()\n    optimizer.step()\n", 2, 1),
        Invalid("import torch\nclass Lookahead(torch.optim.SGD):\n    pass\nopt = Lookahead(model.parameters(), lr=0.1)\n"
                "for x in loader:\n    model(x).sum().backward()\n    opt.step()\n", 5, 1, "a subclass of a torch optimizer"),
        Invalid("import torch as th\ndef train(net, data):\n    opt = th.optim.Adam(net.parameters())\n    step = 0\n"
                "    while step < 100:\n        net(data).mean().backward()\n        opt.step()\n        step += 1\n", 5, 5),
        Invalid("import torch\ndef update(optim_g, loss):\n    loss.backward()\n    optim_g.step()\n"
                "for epoch in range(10):\n    optim_g.zero_grad()\n    for x in loader:\n        update(optim_g, gen(x).mean())\n", 7, 5,
                "cleared once per epoch, stepped per batch through a helper"),
        Invalid("import torch\nfor real in loader:\n    d_loss = disc(real).mean()\n    d_loss.backward()\n    opt_d.step()\n"
                "    g_loss = -disc(gen(z)).mean()\n    g_loss.backward()\n    opt_g.step()\n", 2, 1, "two optimizers in a GAN"),
        Invalid("import torch\nclass Trainer:\n    def fit(self):\n        for batch in self.loader:\n"
                "            self.scaler.scale(self.model(batch)).backward()\n            self.scaler.step(self.optimizer)\n"
                "            self.scaler.update()\n", 4, 9),
    )
    evidence = Evidence(
        bad=("import torch\nmodel = torch.nn.Linear(1, 1, bias=False)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
             "for _ in range(2):\n    loss = model(torch.ones(1, 1)).sum()\n    loss.backward()\n    opt.step()\n"
             "print(model.weight.grad.item())\n"),
        bad_shows=Outcome(stdout="2.0"),
        good=("import torch\nmodel = torch.nn.Linear(1, 1, bias=False)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
              "for _ in range(2):\n    opt.zero_grad()\n    loss = model(torch.ones(1, 1)).sum()\n    loss.backward()\n    opt.step()\n"
              "print(model.weight.grad.item())\n"),
        good_shows=Outcome(stdout="1.0"),
    )

    def visit_Module(self, node):
        facts = training_facts(self.context)
        if not facts.works_with_torch:
            return
        for root in facts.roots.values():
            for loop in facts.own_loops(root):
                optimizer = self._unclear_step(facts, loop)
                if optimizer is None:
                    continue
                if any(self._unclear_step(facts, inner) for inner in facts.loops_in(loop.blocks[0])):
                    continue  # the innermost such loop is the one to fix
                self.report(loop.node, self.message.format(optimizer=optimizer))

    def _unclear_step(self, facts, loop: Compound):
        """The optimizer this loop steps after a backward without ever clearing gradients, if any."""
        body = loop.blocks[0]
        if any(e.kind in (ZERO_GRAD, CLEAR) for e in facts.events_in(body, definitions=True)):
            return None
        seen_backward = False
        for event in facts.events_in(body):
            if event.kind == BACKWARD:
                seen_backward = True
            elif seen_backward and event.kind in (STEP, SCALER_STEP):
                # a step right after a backward is an optimizer's, whatever its name
                optimizer = facts.stepped_optimizer(event) or "optimizer"
                return None if _rebound_in(loop.node, optimizer) else optimizer
        return None


def _rebound_in(loop: cst.CSTNode, text: str) -> bool:
    """The loop assigns the optimizer itself: each iteration builds a fresh one (a sweep, not a training loop)."""
    for node in nodes_of(loop, (cst.Assign,)):
        for target in node.targets:
            if isinstance(target.target, (cst.Name, cst.Attribute)) and cst.Module([]).code_for_node(target.target) == text:
                return True
    return False
