"""Sampling from a generator and measuring the samples: shared by the loop and the CLI."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .metrics.toy2d import energy_distance, mode_metrics
from .priors import Prior


@torch.no_grad()
def generate(G: nn.Module, prior: Prior, n: int, seed: int, data=None, batch_size: int = 4096) -> Tensor:
    """``n`` samples on the CPU, shape (n, *shape), mapped to data space by ``data.decode``
    when ``data`` is given; the same seed gives the same samples."""
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)  # CPU noise: identical on every device
    was_training = G.training
    G.eval()
    out = []
    for start in range(0, n, batch_size):
        z = prior.sample(min(batch_size, n - start), gen, device)  # (b, z_dim)
        out.append(G(z).float().cpu())
    G.train(was_training)
    x = torch.cat(out) if out else torch.empty(0)
    return data.decode(x) if data is not None else x


def sample_metrics(x: Tensor, data, seed: int) -> dict:
    """Mode metrics where the data has known modes, else the energy distance to real data."""
    if getattr(data, "centers", None) is not None:
        m = mode_metrics(x.flatten(1), data.centers, data.std)
        m.pop("counts")
        return m
    real = data.reference(len(x), seed).flatten(1)
    return {"energy": energy_distance(x.flatten(1), real), "n": len(x)}
