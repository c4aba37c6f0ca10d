"""``ganforge evaluate``: measure a trained run's samples, as text or one JSON object."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import GanforgeError
from .common import load, metrics_line


def run(args) -> int:
    import torch

    from ..data.base import KnownModes
    from ..evaluation import sample_metrics

    run = load(args.run)
    cfg, data, step = run.cfg, run.data, run.step
    n = args.n if args.n is not None else cfg.eval.n_samples
    seed = args.seed if args.seed is not None else cfg.eval.seed
    if n < 1:
        raise GanforgeError(f"--n {n}: must be >= 1")
    labels = None
    stacked = data.evaluator == "digits" and data.shape[0] == 3  # classes are digit triples
    if run.n_classes and not stacked:
        labels = torch.arange(n) % run.n_classes  # ask for every class equally often
    x = run.generate(n, seed, labels)
    weights = args.inception_weights or cfg.eval.inception_weights
    if weights and len(data.shape) != 3:
        raise GanforgeError("--inception-weights: Inception FID/KID is for image runs; this run generates points")
    metrics = sample_metrics(x, data, seed, labels, inception_weights=weights)
    if args.plot:
        from ..report.plots import scatter

        if x[0].numel() != 2:
            raise GanforgeError("--plot: scatter plots are for 2D data")
        centers = data.centers if isinstance(data, KnownModes) else None
        scatter(data.reference(n, seed), x, Path(args.plot), f"{args.run} step {step}", centers)
    result = {"run": str(args.run), "step": step, "data": cfg.data.name, "seed": seed, **metrics}
    if args.json:
        print(json.dumps({k: (v if not (isinstance(v, float) and math.isinf(v)) else None) for k, v in result.items()}))
    else:
        print(f"{args.run}  step {step}  data {cfg.data.name}  seed {seed}")
        print(metrics_line(metrics))
    return 0
