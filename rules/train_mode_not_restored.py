from autogradlint.analysis.training import CALL, EVAL, TRAIN, Compound, training_facts
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class TrainModeNotRestored(Rule):
    """
    ## What it does
    Flags a loop that trains (calls `backward()` or an optimizer's `step()`) and also calls
    `model.eval()` (directly or in a helper such as `validate(model)`), but never calls
    `model.train()` inside the loop, so nothing switches the model back.

    ## Why is this bad?
    `eval()` is sticky. From the second iteration on, the training step runs with dropout off and
    batch norm using (and no longer updating) its running statistics: the model trains in the wrong
    mode and usually generalizes worse, with no error. A `model.train()` at the top of the loop, or in
    the training helper it calls, is what is expected. A teacher or EMA model that is put in eval mode
    but not trained is not flagged.

    ## Example
    ```python
    model.train()
    for epoch in range(epochs):
        train_one_epoch(model, loader, optimizer)
        model.eval()
        evaluate(model, val_loader)
    ```

    ## Use instead
    ```python
    for epoch in range(epochs):
        model.train()
        train_one_epoch(model, loader, optimizer)
        model.eval()
        evaluate(model, val_loader)
    ```

    ## Fix safety
    No fix: where training resumes is the author's choice.
    """

    code = "GL402"
    name = "train-mode-not-restored"
    severity = "warning"
    message = ("this loop calls '{model}.eval()' and trains, but never '{model}.train()': from the second iteration "
               "on, dropout and batch norm train in eval mode. Call '{model}.train()' at the top of the loop")
    triggers = ("eval(", "train(false", "train(mode=false")
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nfor epoch in range(3):\n    model.train()\n    for x in loader:\n        opt.zero_grad()\n"
              "        model(x).sum().backward()\n        opt.step()\n    model.eval()\n    with torch.no_grad():\n"
              "        model(val)\n", "model.train() at the top of the epoch"),
        Valid("import torch\ndef train_one_epoch(model, loader, opt):\n    model.train()\n    for x in loader:\n"
              "        opt.zero_grad()\n        model(x).sum().backward()\n        opt.step()\n"
              "for epoch in range(3):\n    train_one_epoch(model, loader, opt)\n    model.eval()\n", "the helper restores train mode"),
        Valid("import torch\ndef validate(net):\n    net.eval()\n    with torch.no_grad():\n        net(val)\n    net.train()\n"
              "for x in loader:\n    opt.zero_grad()\n    model(x).sum().backward()\n    opt.step()\n    validate(model)\n",
              "validation restores train mode"),
        Valid("import torch\nopt = torch.optim.SGD(student.parameters(), lr=0.1)\nfor x in loader:\n    teacher.eval()\n"
              "    with torch.no_grad():\n        t = teacher(x)\n    opt.zero_grad()\n    loss(student(x), t).backward()\n"
              "    opt.step()\n", "the teacher is not trained"),
        Valid("import torch\nfor epoch in range(3):\n    model.eval()\n    with torch.no_grad():\n        model(val)\n",
              "no training in the loop"),
        Valid("import torch\nfor epoch in range(3):\n    model.train(epoch > 0)\n    model(x).sum().backward()\n    opt.step()\n"
              "    model.eval()\n", "train(flag) counts as restoring"),
    )
    invalid = (
        Invalid("import torch\nmodel.train()\nfor epoch in range(3):\n    for x in loader:\n        opt.zero_grad()\n"
                "        model(x).sum().backward()\n        opt.step()\n    model.eval()\n    with torch.no_grad():\n"
                "        model(val)\n", 3, 1),
        Invalid("import torch as th\ndef train_one_epoch(net, loader, optim_g):\n    for x in loader:\n        optim_g.zero_grad()\n"
                "        net(x).mean().backward()\n        optim_g.step()\ndef evaluate(net):\n    net.eval()\n"
                "    with th.no_grad():\n        return net(val)\ndef main(model, optimizer):\n    epoch = 0\n    while epoch < 10:\n"
                "        train_one_epoch(model, loader, optimizer)\n        evaluate(model)\n        epoch += 1\n", 13, 5,
                "both through helpers, a while loop"),
        Invalid("import torch\nclass Trainer:\n    def fit(self):\n        for step, batch in enumerate(self.loader):\n"
                "            self.optimizer.zero_grad()\n            self.model(batch).sum().backward()\n            self.optimizer.step()\n"
                "            if step % 100 == 0:\n                self.validate()\n    def validate(self):\n"
                "        self.model.eval()\n        with torch.no_grad():\n            self.model(self.val)\n", 4, 9,
                "periodic validation inside the batch loop"),
        Invalid("import torch\nopt = torch.optim.Adam(net.parameters())\nfor epoch in range(2):\n    for x in loader:\n"
                "        opt.zero_grad()\n        net(x).sum().backward()\n        opt.step()\n    net.train(False)\n", 3, 1,
                "train(False)"),
    )
    evidence = Evidence(
        bad=("import torch\nmodel = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))\n"
             "opt = torch.optim.SGD(model.parameters(), lr=0.1)\nmodes = []\nfor epoch in range(2):\n"
             "    opt.zero_grad()\n    modes.append(model.training)\n    model(torch.ones(1, 2)).sum().backward()\n    opt.step()\n"
             "    model.eval()\n    with torch.no_grad():\n        model(torch.ones(1, 2))\nprint(modes)\n"),
        bad_shows=Outcome(stdout="[True, False]"),
        good=("import torch\nmodel = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))\n"
              "opt = torch.optim.SGD(model.parameters(), lr=0.1)\nmodes = []\nfor epoch in range(2):\n    model.train()\n"
              "    opt.zero_grad()\n    modes.append(model.training)\n    model(torch.ones(1, 2)).sum().backward()\n    opt.step()\n"
              "    model.eval()\n    with torch.no_grad():\n        model(torch.ones(1, 2))\nprint(modes)\n"),
        good_shows=Outcome(stdout="[True, True]"),
    )

    def visit_Module(self, node):
        facts = training_facts(self.context)
        if not facts.works_with_torch:
            return
        for root in facts.roots.values():
            for loop in facts.own_loops(root):
                model = self._stuck_in_eval(facts, loop)
                if model is None or any(self._stuck_in_eval(facts, inner) for inner in facts.loops_in(loop.blocks[0])):
                    continue
                self.report(loop.node, self.message.format(model=model))

    def _stuck_in_eval(self, facts, loop: Compound):
        """The trained model this loop switches to eval and never back, if any."""
        body = loop.blocks[0]
        events = list(facts.events_in(body))
        if any(e.kind == TRAIN for e in events) or not facts.trains(body):
            return None
        for event in events:
            if event.kind == EVAL and event.receiver is not None and _is_trained(facts, event.receiver, events):
                return event.receiver
        return None


def _is_trained(facts, model, events) -> bool:
    """The optimizer holds the model's parameters, or (when that is unknown) the loop runs it with grad."""
    holds = facts.trains_parameters_of(model)
    if holds is not None:
        return holds
    if model == "self":
        return True
    return any(e.kind == CALL and e.receiver == model and e.grad_off is False for e in events)
