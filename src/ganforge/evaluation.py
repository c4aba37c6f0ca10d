"""Sampling from a generator and measuring the samples: shared by the loop, the API and the CLI."""

from __future__ import annotations

from typing import Optional, Union

import torch
from torch import Tensor, nn

from .conditions import Batch, ConditionSpec, as_condition, rows_of
from .data.base import DataSource
from .metrics.evaluators import EVALUATORS
from .priors import Prior


@torch.no_grad()
def generate(G: nn.Module, prior: Prior, n: int, seed: int, data: Optional[DataSource] = None,
             condition: Union[ConditionSpec, int, None] = None, label=None, batch_size: int = 4096) -> Tensor:
    """``n`` samples on the CPU, shape (n, *shape), mapped to data space by ``data.decode``
    when ``data`` is given; the same seed gives the same samples. A conditional G
    (``condition``: its spec, or its number of classes) draws sample i under ``label`` (one
    checked value: a class, or a 1-row batch), ``label[i]`` (a batch of n conditions), or under conditions
    drawn as the spec draws them at the data's frequencies (uniform classes; a table's own
    category frequencies) when ``label`` is None."""
    spec = as_condition(condition)
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)  # CPU noise: identical on every device
    was_training = G.training
    G.eval()
    out = []
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        z = prior.sample(b, gen, device)  # (b, z_dim)
        y = None
        if spec is not None:
            if label is None:
                y = spec.draw(b, gen, empirical=True)  # (b,) ids, (b, A) or a TextBatch
            elif isinstance(label, (Tensor, Batch)) and len(label) == n:  # n conditions, one per sample
                y = label[start : start + b]
            else:  # one for every sample: an id, or the one row spec.check gives (attributes, text)
                y = spec.repeat(label, b)
            y = y.to(device)
        out.append(G(z, y).float().cpu())
    G.train(was_training)
    x = torch.cat(out) if out else torch.empty(0)
    return data.decode(x) if data is not None else x


def sample_metrics(x: Tensor, data: DataSource, seed: int, labels: Optional[Tensor] = None,
                   inception_weights: Optional[str] = None) -> dict:
    """Metrics of samples ``x`` (n, *data.shape) in data space against ``data``, by the evaluator
    the data names (``data.evaluator``; ``ganforge.metrics.evaluators``): exact mode metrics for
    known densities; the digit classifier's metrics for digit images; for other labelled images,
    the metrics of a classifier trained on their labels; else the energy distance to real data
    in raw coordinates (pixels for images). ``provenance`` says which feature space.

    ``labels`` (n,): the classes a conditional G was asked for. ``inception_weights`` (images):
    the path of the user's Inception-v3 weights file; FID and KID are then measured in
    Inception's pool3 space (never downloaded)."""
    return EVALUATORS.get(data.evaluator)(x, data, seed, labels=labels, inception_weights=inception_weights)


def eval_conditions(data: DataSource, condition, n: int):
    """The conditions an evaluation asks G for, one per sample, or None (drawn as the spec
    draws them): captioned scenes are measured on their test scenes (``data.eval_conditions``:
    the test captions, half of them held-out combinations; attribute vectors for the oracle)."""
    if condition is not None and data.evaluator == "scenes":
        return data.eval_conditions(n)
    return None


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` (n, d) at fractions ``t`` (k,):
    (n, k, d). It keeps the norm typical of a Gaussian latent (Shoemake 1985; White 2016)."""
    a_n, b_n = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]  # (n, 1, 1)
    t = t[None, :, None]
    return (torch.sin((1 - t) * omega) * a[:, None] + torch.sin(t * omega) * b[:, None]) / torch.sin(omega)


@torch.no_grad()
def interpolate(G: nn.Module, prior: Prior, data: DataSource, condition: Union[ConditionSpec, int, None], rows: int,
                steps: int, seed: int, label=None, ends: Optional[tuple[Tensor, Tensor]] = None) -> Tensor:
    """``rows`` latent paths of ``steps`` samples each, (rows * steps, *shape), in data space:
    spherical for a normal prior, linear for a uniform one. ``ends``: the paths' first and last
    latents (rows, z_dim) each (e.g. two projected images); default: drawn from the prior."""
    gen = torch.Generator().manual_seed(seed)
    a, b = (prior.sample(rows, gen), prior.sample(rows, gen)) if ends is None else ends  # (rows, z_dim)
    t = torch.linspace(0, 1, steps)
    if prior.kind == "normal":
        z = slerp(a, b, t)
    else:
        z = a[:, None] + t[None, :, None] * (b - a)[:, None]
    z = z.reshape(rows * steps, -1)
    spec, y = as_condition(condition), None
    if spec is not None:  # one condition per path
        y = spec.repeat(label, len(z)) if label is not None else \
            rows_of(spec.draw(rows, gen, empirical=True), lambda t: t.repeat_interleave(steps, dim=0))
    device = next(G.parameters()).device
    x = G(z.to(device), y.to(device) if y is not None else None).float().cpu()
    return data.decode(x)


def condition_rows(condition, n: Optional[int] = None, per_row: Optional[int] = None):
    """How a figure shows ``condition``: (labels, row names) with one condition per row, or
    (None, None) where the condition names no rows (unconditional runs, tables, the 1,000
    classes of stacked digits). ``per_row`` samples a row (every row full), or ``n`` samples
    spread over the rows (the last row shorter when they do not divide)."""
    spec = as_condition(condition)
    rows = spec.rows() if spec is not None else None
    if rows is None:
        return None, None
    values, names = rows
    per_row = per_row or -(-n // len(names))  # ceil
    labels = rows_of(values, lambda t: t.repeat_interleave(per_row, dim=0))[:n]  # class-major: row r holds condition r
    return labels, names[: -(-len(labels) // per_row)]


def sample_figure(G: nn.Module, prior: Prior, data: DataSource, condition, seed: int, title: str = "",
                  per_row: int = 8):
    """The data kind's sample figure of G on fixed noise (the same ``seed``, the same noise): a
    conditional run's classes one per row, ``per_row`` each, named; ``kind.figure_n`` samples
    otherwise. None where the kind draws no picture of these samples."""
    kind = data.kind
    labels, names = condition_rows(condition, per_row=per_row)
    n = kind.figure_n if labels is None else len(labels)
    fake = generate(G, prior, n, seed, data, condition, labels)  # (n, *shape)
    return kind.figure(fake, data, seed, title, rows=names)


def sample_sound(G: nn.Module, prior: Prior, data: DataSource, condition, seed: int, n: int = 8):
    """Clips to listen to beside the sample figure, on the same fixed noise: one per class for a
    conditional run (named), else ``n``; (the kind's sound, a ``ganforge.wav.Wave``, and the
    clips' names), or (None, None) where the kind makes no sound."""
    labels, names = condition_rows(condition, per_row=1)
    fake = generate(G, prior, n if labels is None else len(labels), seed, data, condition, labels)
    sound = data.kind.sound(fake, data)
    return sound, (names or [f"sample {i}" for i in range(len(fake))]) if sound is not None else None


def evaluate_run(g, n: Optional[int] = None, seed: Optional[int] = None, inception_weights: Optional[str] = None,
                 plot=None, inception: bool = False, truncation: Optional[float] = None) -> tuple[dict, int]:
    """Measure ``n`` samples (default ``eval.n_samples``) of a loaded run ``g``
    (:func:`ganforge.trained.load_run`) drawn with ``seed`` (default ``eval.seed``) against its
    data, as :meth:`ganforge.api.Run.evaluate` describes; returns (metrics, the seed used)."""
    import math
    from pathlib import Path

    from .data.base import KnownModes
    from .errors import GanforgeError
    from .metrics.fetch import fetch_inception_weights

    cfg, data = g.cfg, g.data
    n = cfg.eval.n_samples if n is None else n
    seed = cfg.eval.seed if seed is None else seed
    if n < 1:
        raise GanforgeError(f"--n {n}: must be >= 1")
    weights = inception_weights or cfg.eval.inception_weights
    if (weights or inception) and not data.kind.pixels:
        raise GanforgeError(f"--inception: Inception FID/KID is for image runs; this run generates {data.kind.name} "
                            "samples")
    if not weights and (inception or cfg.eval.inception):
        weights = str(fetch_inception_weights())  # the one opt-in download
    if plot is not None and math.prod(data.shape) != 2:
        raise GanforgeError("--plot: scatter plots are for 2D data")
    labels = None
    stacked = data.evaluator == "digits" and data.shape[0] == 3  # classes are digit triples
    if g.condition is not None and g.condition.kind == "class_ids" and not stacked:  # tables: as drawn
        labels = torch.arange(n) % g.n_classes  # every class equally often
    labels = eval_conditions(data, g.condition, n) if labels is None else labels
    x = g.generate(n, seed, labels, truncation)
    metrics = sample_metrics(x, data, seed, labels, inception_weights=weights)
    if truncation is not None:  # the samples measured were truncated: say so with the metrics
        metrics["truncation"] = truncation
    if plot is not None:
        from .report.plots import scatter

        centers = data.centers if isinstance(data, KnownModes) else None
        scatter(data.reference(n, seed), x, Path(plot), f"{Path(g.run_dir).name} step {g.step}", centers)
    return metrics, seed
