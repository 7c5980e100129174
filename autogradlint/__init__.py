"""autogradlint: a static linter for PyTorch gradient-control pitfalls."""

__version__ = "0.1.0"
