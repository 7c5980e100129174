"""False alarms fixed at the level of the fact (what is an index computation, what is a tensor, what is a
torch optimizer, what is a torch module), through the real CLI: each look-alike is silent and the true
positive next to it still fires."""
import textwrap


def _check(cli, tmp_path, source, select):
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    result = cli("check", "--no-cache", "--select", select, "--output-format", "concise", str(path))
    found = [line[len(str(path)) + 1:].split(" ")[0:2] for line in result.out.splitlines() if line.startswith(str(path))]
    return result.code, [(f"{where.rstrip(':')}", code) for where, code in found]


def test_argsort_indices_in_forward_are_not_numpy_values(cli, tmp_path):
    code, found = _check(cli, tmp_path, """\
        import numpy as np
        import torch


        class Ranker(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(4, 4)

            def forward(self, x):
                h = self.fc(x)
                order = np.argsort(h.detach().cpu().numpy())
                picked = torch.gather(h, 1, torch.from_numpy(order))
                top = torch.topk(h, 2).indices
                return picked + h.gather(1, top).sum()


        class Squash(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(4, 4)

            def forward(self, x):
                h = self.fc(x)
                return torch.from_numpy(np.tanh(h.detach().numpy()))
        """, "GL313")
    assert (code, found) == (1, [("25:41", "GL313")])


def test_option_of_parsed_arguments_is_not_a_tensor_attribute(cli, tmp_path):
    code, found = _check(cli, tmp_path, """\
        import argparse

        import torch

        parser = argparse.ArgumentParser()
        parser.add_argument("--require-grad", action="store_true")
        args = parser.parse_args()
        args.require_grad = not args.require_grad
        model = torch.nn.Linear(2, 2)
        for p in model.parameters():
            p.require_grad = args.require_grad
        """, "GL101")
    assert (code, found) == (1, [("11:5", "GL101")])


def test_home_made_optimizer_is_not_a_torch_optimizer(cli, tmp_path):
    code, found = _check(cli, tmp_path, """\
        import torch


        class SGD:
            def __init__(self, params, lr):
                self.params = list(params)
                self.lr = lr

            def zero_grad(self, set_to_none=False):
                for p in self.params:
                    p.grad = None

            def step(self):
                with torch.no_grad():
                    for p in self.params:
                        p -= self.lr * p.grad
                        p.grad = None


        model = torch.nn.Linear(2, 1)
        opt = SGD(model.parameters(), 0.1)
        for x, y in loader:
            ((model(x) - y) ** 2).mean().backward()
            opt.step()
        opt.zero_grad(set_to_none=False)

        adam = torch.optim.Adam(model.parameters())
        for x, y in loader:
            ((model(x) - y) ** 2).mean().backward()
            adam.step()
        adam.zero_grad(set_to_none=False)
        """, "GL501,GL505")
    assert (code, found) == (1, [("28:1", "GL501"), ("31:1", "GL505")])


def test_scikit_learn_style_model_eval_is_not_module_eval(cli, tmp_path):
    code, found = _check(cli, tmp_path, """\
        import torch


        class KNN:
            def fit(self, features, labels):
                self.features, self.labels = features, labels

            def eval(self):
                return self

            def __call__(self, x):
                return torch.cdist(x, self.features).argmin(1)


        knn = KNN()
        knn.eval()
        for x in loader:
            print(knn(x))

        net = torch.nn.Linear(4, 2)
        net.eval()
        for x in loader:
            print(net(x))
        """, "GL401")
    assert (code, found) == (1, [("21:1", "GL401")])
