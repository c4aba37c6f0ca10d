"""Models: a registry of builders ``name(cfg: ModelConfig, data_shape) -> (G, D)``.

G maps noise ``z`` of shape (B, z_dim) to samples of shape (B, *data_shape); D maps samples
to logits of shape (B,). One architecture per file.
"""

from .mlp import MODELS

__all__ = ["MODELS"]
