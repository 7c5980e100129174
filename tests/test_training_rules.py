"""The training-step and train/eval rules (GL401, GL402, GL404, GL501-GL505) on whole training scripts."""
import textwrap

import pytest

from autogradlint.rule import all_rules

from conftest import lint

CODES = ("GL401", "GL402", "GL404", "GL501", "GL502", "GL503", "GL504", "GL505")
RULES = [all_rules()[code] for code in CODES]


def findings(source):
    return [(d.code, d.line, d.column) for d in lint(textwrap.dedent(source), RULES)]


MNIST_EXAMPLE = """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.optim.lr_scheduler import StepLR


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.fc1 = nn.Linear(9216, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = self.dropout1(torch.flatten(x, 1))
            return F.log_softmax(self.fc1(x), dim=1)


    def train(args, model, device, train_loader, optimizer, epoch):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            if batch_idx % args.log_interval == 0:
                print(loss.item())


    def test(model, device, test_loader):
        model.eval()
        test_loss = 0
        with torch.no_grad():
            for data, target in test_loader:
                output = model(data.to(device))
                test_loss += F.nll_loss(output, target.to(device), reduction="sum").item()
        return test_loss


    def main(args, device, train_loader, test_loader):
        model = Net().to(device)
        optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
        scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
        for epoch in range(1, args.epochs + 1):
            train(args, model, device, train_loader, optimizer, epoch)
            test(model, device, test_loader)
            scheduler.step()
"""


def test_the_pytorch_mnist_example_is_clean():
    assert findings(MNIST_EXAMPLE) == []


def test_a_script_with_every_training_step_bug():
    source = """
        import torch
        from torch import nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Dropout(0.1))

            def forward(self, x):
                return self.body(x)


        def train_one_epoch(model, loader, opt):
            for x, y in loader:
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)


        def validate(model, loader):
            model.eval()
            correct = 0
            for x, y in loader:
                correct += (model(x).argmax(1) == y).sum().item()
            return correct


        def main(train_loader, val_loader):
            model = Net()
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            model.train()
            for epoch in range(10):
                train_one_epoch(model, train_loader, opt)
                print(validate(model, val_loader))
            with torch.no_grad():
                final = Net()
                print(final(next(iter(val_loader))[0]))
    """
    assert findings(source) == [
        ("GL501", 16, 5),  # no zero_grad in the batch loop
        ("GL503", 20, 9),  # clipping after the step
        ("GL401", 24, 5),  # validation without no_grad
        ("GL402", 35, 5),  # validate() leaves the model in eval mode for the next epoch
        ("GL404", 40, 15),  # a fresh model with dropout run under no_grad in train mode
    ]


def test_amp_training_right_and_wrong():
    right = """
        import torch
        from torch.amp import GradScaler, autocast

        scaler = GradScaler("cuda")
        for step, (x, y) in enumerate(loader):
            with autocast("cuda"):
                loss = criterion(model(x), y) / accum
            scaler.scale(loss).backward()
            if (step + 1) % accum == 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
    """
    assert findings(right) == []
    wrong = """
        import torch

        scaler = torch.cuda.amp.GradScaler()
        for x, y in loader:
            optimizer.zero_grad(set_to_none=False)
            with torch.autocast("cuda"):
                loss = criterion(model(x), y)
            scaler.scale(loss).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scaler.update()
    """
    assert findings(wrong) == [("GL505", 6, 5), ("GL504", 10, 5), ("GL504", 11, 5)]


def test_a_dcgan_loop_is_clean():
    source = """
        import torch
        import torch.nn as nn

        criterion = nn.BCELoss()
        optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4)
        optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4)
        for epoch in range(25):
            for i, data in enumerate(dataloader):
                netD.zero_grad()
                errD_real = criterion(netD(data[0]), real_label)
                errD_real.backward()
                fake = netG(noise)
                errD_fake = criterion(netD(fake.detach()), fake_label)
                errD_fake.backward()
                optimizerD.step()
                netG.zero_grad()
                errG = criterion(netD(fake), real_label)
                errG.backward()
                optimizerG.step()
            netG.eval()
            with torch.no_grad():
                samples = netG(fixed_noise)
            netG.train()
    """
    assert findings(source) == []


def test_gan_that_clears_the_generator_between_its_backward_and_step():
    source = """
        import torch

        def train_step(gen, disc, opt_g, opt_d, real, z):
            opt_g.zero_grad()
            g_loss = -disc(gen(z)).mean()
            g_loss.backward()
            opt_g.zero_grad()
            opt_g.step()
            opt_d.zero_grad()
            d_loss = disc(gen(z).detach()).mean() - disc(real).mean()
            d_loss.backward()
            opt_d.step()
    """
    assert findings(source) == [("GL502", 8, 5)]


def test_lightning_and_accelerate_loops_are_clean():
    lightning = """
        import torch
        import lightning as L

        class LitModel(L.LightningModule):
            def training_step(self, batch, batch_idx):
                x, y = batch
                return torch.nn.functional.mse_loss(self.net(x), y)

            def validation_step(self, batch, batch_idx):
                self.log("val", self.net(batch[0]).mean())

            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters())


        class ManualGAN(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.automatic_optimization = False

            def training_step(self, batch, batch_idx):
                opt_g, opt_d = self.optimizers()
                self.toggle_optimizer(opt_g)
                g_loss = self.generator_loss(batch)
                opt_g.zero_grad()
                self.manual_backward(g_loss)
                opt_g.step()
                self.untoggle_optimizer(opt_g)
    """
    assert findings(lightning) == []
    accelerate = """
        import torch
        from accelerate import Accelerator

        accelerator = Accelerator()
        model.train()
        for epoch in range(num_epochs):
            for step, batch in enumerate(train_dataloader):
                with accelerator.accumulate(model):
                    outputs = model(**batch)
                    accelerator.backward(outputs.loss)
                    if accelerator.sync_gradients:
                        accelerator.clip_grad_norm_(model.parameters(), 1.0)
                    optimizer.step()
                    lr_scheduler.step()
                    optimizer.zero_grad()
            model.eval()
            for batch in eval_dataloader:
                with torch.no_grad():
                    outputs = model(**batch)
    """
    assert findings(accelerate) == [("GL402", 7, 1)]


def test_manual_sgd_and_closures_are_clean():
    source = """
        import torch

        w = torch.zeros(3, requires_grad=True)
        for x, y in data:
            loss = ((x @ w - y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w -= 0.1 * w.grad
                w.grad.zero_()

        optimizer = torch.optim.LBFGS([w])
        for i in range(20):
            def closure():
                optimizer.zero_grad()
                loss = ((data_x @ w - data_y) ** 2).mean()
                loss.backward()
                return loss
            optimizer.step(closure)
    """
    assert findings(source) == []


def test_nan_skipping_and_end_of_iteration_clearing_are_clean():
    source = """
        import torch

        def fit(model, optimizer, loader, max_norm):
            model.train()
            for x, y in loader:
                loss = model(x, y)
                if not torch.isfinite(loss):
                    optimizer.zero_grad()
                    continue
                loss.backward()
                if max_norm > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
                optimizer.step()
                optimizer.zero_grad()
    """
    assert findings(source) == []


def test_a_test_function_without_eval_is_found_through_its_callers():
    source = MNIST_EXAMPLE.replace("        model.eval()\n", "")
    assert findings(source) == [("GL404", 39, 22)]
    recursive = """
        import torch
        from torch import nn

        def predict(model, xs):
            with torch.no_grad():
                out = model(xs[0])
            return [out] + predict(model, xs[1:])
    """
    assert findings(recursive) == []


@pytest.mark.parametrize("build", ["Net().xpu()", "torch.nn.parallel.data_parallel.DataParallel(Net())"])
def test_inference_without_eval_follows_every_call_that_keeps_the_module(build):
    # .xpu() returns the module as .cuda() does; DataParallel under its defining module's path wraps it
    source = (
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.drop = nn.Dropout(0.2)\n"
        f"net = {build}\n"
        "with torch.no_grad():\n    out = net(x)\n"
    )
    assert [(d.code, d.line) for d in lint(source) if d.code == "GL404"] == [("GL404", 9)]


def test_eval_through_any_call_that_returns_the_module():
    # .xpu() returns the module as .to()/.cuda() do: the eval is the model's (one shared list of such methods)
    source = "import torch\nnet = torch.nn.Linear(2, 2)\nnet.xpu().eval()\nprint(net(torch.ones(1, 2)))\n"
    assert [(d.code, d.line) for d in lint(source) if d.code == "GL401"] == [("GL401", 3)]
