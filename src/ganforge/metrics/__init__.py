"""Metrics: exact mode metrics for known densities (toy2d.py)."""

from .toy2d import energy_distance, mode_metrics

__all__ = ["energy_distance", "mode_metrics"]
