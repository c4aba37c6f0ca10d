"""What several command handlers share: printing metrics."""

from __future__ import annotations

from typing import Optional


def metrics_line(m: dict, evaluator: Optional[str]) -> str:
    """A run's or a samples file's metrics as one or a few lines of text: the headline that
    ``evaluator`` declares (``metrics/evaluators.py``); None: a game's own held-out scores."""
    from ..metrics.evaluators import headline

    return headline(m, evaluator)
