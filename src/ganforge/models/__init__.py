"""Models: a registry of builders ``name(cfg: ModelConfig, data_shape, n_classes) -> (G, D)``.

G is called as ``G(z, y)``: noise (B, z_dim) and labels (B,) or None -> samples
(B, *data_shape) in model space. D as ``D(x, y)`` -> logits (B // pac,). One architecture
per file; ``n_classes > 0`` builds a conditional pair.
"""

from . import dcgan, dfgan, mlp, recurrent, resnet_i2i, srnet, stylegan2, tabular, timegan, unet  # noqa: F401  (registers the models)
from .base import MODELS

__all__ = ["MODELS"]
