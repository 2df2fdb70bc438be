"""Model registry. Each model module registers a builder: builder(in_channels, num_classes, **options) -> Classifier."""

from unikd.registry import Registry

MODELS: Registry = Registry("model")

from unikd.models import cnn, heads  # noqa: E402,F401  (registers the built-in models)
from unikd.models.cnn import Classifier  # noqa: E402


def build_model(name: str, in_channels: int, num_classes: int, **options) -> "Classifier":
    return MODELS.get(name)(in_channels=in_channels, num_classes=num_classes, **options)


def count_parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["MODELS", "build_model", "count_parameters", "Classifier"]
