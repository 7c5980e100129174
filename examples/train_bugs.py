"""A small training script with gradient-control bugs that autogradlint finds.

Run: autogradlint check examples/train_bugs.py
"""
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(16, 32), nn.ReLU())
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        return self.head(self.backbone(x))


def freeze_backbone(model):
    for p in model.backbone.parameters():
        p.require_grad = False  # GL101: the backbone keeps training


def train(model, loader, epochs=2):
    optimizer = torch.optim.SGD(model.head.parameters(), lr=0.1)
    criterion = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()


def evaluate(model, loader):
    model.eval
    correct = 0
    with torch.no_grad:
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct


if __name__ == "__main__":
    data = [(torch.randn(8, 16), torch.randint(0, 4, (8,))) for _ in range(4)]
    net = Classifier()
    freeze_backbone(net)
    train(net, data)
    print(evaluate(net, data))
