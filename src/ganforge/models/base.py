"""The model registry: ``name(cfg: ModelConfig, data_shape, n_classes) -> (G, D)``."""

from ..registry import Registry

MODELS: Registry = Registry("model.name")
