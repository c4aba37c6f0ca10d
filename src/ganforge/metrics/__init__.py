"""Metrics: distances from features (distances.py), exact mode metrics for known densities
(toy2d.py), image metrics in a classifier's or Inception's feature space (image.py,
features.py, inception.py), and the evaluators that datasets name (evaluators.py)."""

from .distances import energy_distance
from .evaluators import EVALUATORS
from .toy2d import mode_metrics

__all__ = ["EVALUATORS", "energy_distance", "mode_metrics"]
