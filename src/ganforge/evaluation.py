"""Sampling from a generator and measuring the samples: shared by the loop and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn

from .config import Config
from .metrics.toy2d import energy_distance, mode_metrics
from .priors import Prior


@torch.no_grad()
def generate(G: nn.Module, prior: Prior, n: int, seed: int, data=None, n_classes: int = 0,
             label: Optional[int] = None, batch_size: int = 4096) -> Tensor:
    """``n`` samples on the CPU, shape (n, *shape), mapped to data space by ``data.decode``
    when ``data`` is given; the same seed gives the same samples. A conditional G
    (``n_classes > 0``) draws every sample from class ``label``, or from uniformly drawn
    classes when ``label`` is None."""
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
            y = torch.full((b,), label) if label is not None else torch.randint(n_classes, (b,), generator=gen)
            y = y.to(device)
        out.append(G(z, y).float().cpu())
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


@dataclass
class TrainedRun:
    """A run directory's generator, ready to sample: G_ema when the run kept one."""

    cfg: Config
    G: nn.Module
    prior: Prior
    data: object
    step: int
    n_classes: int

    def generate(self, n: int, seed: int, label: Optional[int] = None) -> Tensor:
        return generate(self.G, self.prior, n, seed, self.data, self.n_classes, label)


def load_run(run_dir: Path, device: str = "cpu", step: Optional[int] = None) -> TrainedRun:
    from .build import build_data, build_models, n_classes
    from .config import load_config
    from .train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(run_dir, step, map_location=device)
    cfg = load_config(base=ckpt["config"])
    data = build_data(cfg)
    data.loc, data.scale = ckpt["data_norm"]["loc"], ckpt["data_norm"]["scale"]  # as trained
    classes = n_classes(cfg, data)
    G, _ = build_models(cfg, data.shape, classes)
    ema = ckpt.get("G_ema")
    G.load_state_dict(ema["model"] if ema is not None else ckpt["G"])
    prior = Prior(cfg.model.prior, cfg.model.z_dim)
    return TrainedRun(cfg, G.to(device).eval(), prior, data, int(ckpt["step"]), classes)
