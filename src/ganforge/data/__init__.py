"""Datasets: a registry of builders ``name(cfg: DataConfig, seed) -> source``.

A source has ``shape`` (one sample's shape), ``n_classes`` (0 when unlabelled),
``sample(n) -> (x, y)`` drawing from its own seeded generator (x in model space, y the labels
(n,) or None), ``reference(n, seed)`` for plots and metrics, and ``state_dict()`` /
``load_state_dict()`` so that a resumed run draws exactly the batches it would have drawn.
Mixtures also carry ``centers`` (K, d) and ``std`` for the mode metrics.
"""

from . import images, toy2d  # noqa: F401  (registers the datasets)
from .base import DATASETS
from .images import ImageData
from .toy2d import MixtureData, PointsData, load_points

__all__ = ["DATASETS", "ImageData", "MixtureData", "PointsData", "load_points"]
