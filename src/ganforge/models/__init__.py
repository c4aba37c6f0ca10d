"""Models: a registry of builders ``name(cfg: ModelConfig, data_shape, n_classes) -> (G, D)``.

G is called as ``G(z, y)``: noise (B, z_dim) and labels (B,) or None -> samples
(B, *data_shape) in model space. D as ``D(x, y)`` -> logits (B // pac,). One architecture
per file; ``n_classes > 0`` builds a conditional pair.
"""

from . import dcgan, dfgan, latentgan, mlp, molgan, recurrent, resnet_i2i, specgan, srnet, stylegan2, tabular, timegan, unet, wavegan  # noqa: F401  (registers the models)
from . import levelgan  # noqa: F401  (tile maps: DCGAN on one-hot channels)
from . import video  # noqa: F401  (registers the video models)
from . import ssl  # noqa: F401  (the semi-supervised GAN: a K-class D)
from . import conv1d  # noqa: F401  (sequences: the 1-D convolutional baseline)
from .base import MODELS

__all__ = ["MODELS"]
