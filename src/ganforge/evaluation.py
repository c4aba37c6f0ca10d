"""Sampling from a generator and measuring the samples: shared by the loop, the API and the CLI."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from .data.base import DataSource
from .metrics.evaluators import EVALUATORS
from .priors import Prior


@torch.no_grad()
def generate(G: nn.Module, prior: Prior, n: int, seed: int, data: Optional[DataSource] = None, n_classes: int = 0,
             label=None, batch_size: int = 4096) -> Tensor:
    """``n`` samples on the CPU, shape (n, *shape), mapped to data space by ``data.decode``
    when ``data`` is given; the same seed gives the same samples. A conditional G
    (``n_classes > 0``) draws sample i from class ``label`` (an int), ``label[i]`` (a tensor
    (n,)), or from uniformly drawn classes when ``label`` is None."""
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)  # CPU noise: identical on every device
    was_training = G.training
    G.eval()
    out = []
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        z = prior.sample(b, gen, device)  # (b, z_dim)
        y = None
        if n_classes:
            if label is None and data is not None and data.kind.holds_conditions:
                y = data.kind.draw_conditions(G, b, gen)  # a table's conditions at the data's frequencies
            elif label is None:
                y = torch.randint(n_classes, (b,), generator=gen)
            elif isinstance(label, Tensor):
                y = label[start : start + b]
            else:
                y = torch.full((b,), int(label))
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


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` (n, d) at fractions ``t`` (k,):
    (n, k, d). It keeps the norm typical of a Gaussian latent (Shoemake 1985; White 2016)."""
    a_n, b_n = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]  # (n, 1, 1)
    t = t[None, :, None]
    return (torch.sin((1 - t) * omega) * a[:, None] + torch.sin(t * omega) * b[:, None]) / torch.sin(omega)


@torch.no_grad()
def interpolate(G: nn.Module, prior: Prior, data: DataSource, n_classes: int, rows: int, steps: int, seed: int,
                label=None, ends: Optional[tuple[Tensor, Tensor]] = None) -> Tensor:
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
    y = None
    if n_classes:
        y = torch.full((len(z),), int(label)) if label is not None else \
            torch.randint(n_classes, (rows,), generator=gen).repeat_interleave(steps)
    device = next(G.parameters()).device
    x = G(z.to(device), y.to(device) if y is not None else None).float().cpu()
    return data.decode(x)
