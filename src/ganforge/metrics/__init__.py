"""Metrics: distances from features (distances.py), exact mode metrics for known densities
(toy2d.py), image metrics in a classifier's or Inception's feature space (image.py,
features.py, inception.py)."""

from .distances import energy_distance
from .toy2d import mode_metrics

__all__ = ["energy_distance", "mode_metrics"]
