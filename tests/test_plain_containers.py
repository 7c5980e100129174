"""GL602/GL605 share one analysis (autogradlint/analysis/containers.py): modules and Parameters kept in
plain containers of a module class, through the real CLI."""
import textwrap

MODEL = '''\
import torch
import torch.nn as nn


class Gated(nn.Module):
    def __init__(self, d, n):
        super().__init__()
        self.gates = [nn.Parameter(torch.randn(d)) for _ in range(n)]
        self.blocks = [nn.Linear(d, d) for _ in range(n)]
        self.anchors = [torch.zeros(d) for _ in range(n)]

    def forward(self, x):
        for gate, block in zip(self.gates, self.blocks):
            x = block(x) * gate
        return x


class Registered(nn.Module):
    def __init__(self, d, n):
        super().__init__()
        self.ws = [nn.Parameter(torch.randn(d)) for _ in range(n)]
        self.params = nn.ParameterList(self.ws)
        self.scales = nn.ParameterDict({"a": nn.Parameter(torch.ones(1))})


class Fitter:
    def __init__(self, d):
        self.coefs = [nn.Parameter(torch.zeros(d))]
'''


def test_parameters_and_modules_in_plain_lists_are_flagged_and_fixed(cli, tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL, encoding="utf-8")
    result = cli("check", "--no-cache", "--select", "GL602,GL605", "--output-format", "concise", str(path))
    assert result.code == 1
    lines = [line for line in result.out.splitlines() if line.startswith(str(path))]
    assert lines == [
        f"{path}:8:22: GL605 error [*] Parameters in a plain list are not registered: named_parameters() does not list them, "
        "so the optimizer never updates them and state_dict() does not save them. Use 'nn.ParameterList(...)'",
        f"{path}:9:23: GL602 error [*] modules in a plain list are not registered: their parameters are never trained, saved "
        "or moved by .to(). Use 'nn.ModuleList(...)'",
    ], result.out
    fixed = cli("check", "--no-cache", "--select", "GL602,GL605", "--fix", str(path))
    assert fixed.code == 0, fixed.out
    text = path.read_text(encoding="utf-8")
    assert "self.gates = nn.ParameterList([nn.Parameter(torch.randn(d)) for _ in range(n)])" in text
    assert "self.blocks = nn.ModuleList([nn.Linear(d, d) for _ in range(n)])" in text
    assert text.replace("nn.ParameterList([nn.Parameter(torch.randn(d)) for _ in range(n)])",
                        "[nn.Parameter(torch.randn(d)) for _ in range(n)]", 1).replace(
        "nn.ModuleList([nn.Linear(d, d) for _ in range(n)])", "[nn.Linear(d, d) for _ in range(n)]", 1) == MODEL


def test_parameter_list_the_class_calls_insert_on_is_flagged_without_a_fix(cli, tmp_path):
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent('''\
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.ws = []
                self.ws.append(nn.Parameter(torch.ones(2)))
                self.ws.insert(0, nn.Parameter(torch.zeros(2)))
        '''), encoding="utf-8")
    result = cli("check", "--no-cache", "--select", "GL605", "--output-format", "json", str(path))
    assert result.code == 1
    import json
    found = json.loads(result.out)
    assert [(f["code"], f["line"], f["fix"]) for f in found] == [("GL605", 7, None)]
