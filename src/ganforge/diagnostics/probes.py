"""Cheap measurements of the game taken at log steps, for the detectors.

A :class:`Probe` owns a fixed batch of noise (and labels), a fixed batch of training reals and
one of held-out reals, all drawn once from its own seeded generator, so probing never touches
the run's random streams: a run gives the same weights with the doctor on or off.

It reports, in model space:

- ``diversity``: mean pairwise distance of G's samples on the fixed noise divided by that of
  real data (1: as spread out as the data; near 0: every noise vector gives the same sample);
- ``d_train`` and ``d_holdout``: mean D(x) on training reals and on reals D never trained on
  (their gap grows when D memorises its training set, Karras et al. 2020); ``d_auc``, how
  often D ranks a training real above a held-out one, and ADA's ``r_t``;
- ``modes_probe``: modes covered by the fixed-noise samples (of ``n_modes``), where the data
  has known modes.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import torch
from torch import Tensor, nn

from ..data.base import DataSource, ImageSet, KnownModes
from ..metrics.toy2d import mode_metrics


@contextlib.contextmanager
def _eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Eval mode and no grad: batch-norm statistics and spectral-norm vectors stay untouched."""
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


def mean_pairwise_distance(x: Tensor) -> float:
    """Mean L2 distance over distinct pairs of the rows of ``x`` (n, ...)."""
    flat = x.flatten(1).double()
    n = len(flat)
    return float(torch.cdist(flat, flat).sum() / (n * (n - 1)))


def _reals(data: DataSource, n: int, seed: int) -> tuple[tuple[Tensor, Optional[Tensor]], Optional[tuple[Tensor, Optional[Tensor]]]]:
    """(training reals, held-out reals or None) in model space, each (n, *shape) with labels.

    Image sets: a fixed subset of the training images and of the held-out split, when the
    dataset has one. Densities with known modes: two independent draws (every draw is unseen
    data). Other sources (a user's points, drawn images such as stacked digits) have no
    held-out split: no overfitting probe.
    """
    g = torch.Generator().manual_seed(seed)
    if isinstance(data, ImageSet):  # the training images themselves, (N, *shape) uint8
        idx = torch.randperm(len(data.images), generator=g)[:n]
        y = data.labels[idx] if data.labels is not None else None
        train = (data.encode(data.images[idx].float() / 255), y)
        held = None
        if data.holdout is not None:
            hx, hy = data.holdout
            hidx = torch.randperm(len(hx), generator=g)[:n]
            held = (data.encode(hx[hidx].float() / 255), hy[hidx] if hy is not None else None)
        return train, held
    train = (data.encode(data.reference(n, seed)), None)
    if isinstance(data, KnownModes):  # an endless known density
        return train, (data.encode(data.reference(n, seed + 1)), None)
    return train, None


def _class_diversity(x: Tensor, y: Tensor, n_classes: int) -> float:
    """Mean over classes (with >= 2 samples) of the mean pairwise distance within the class."""
    per = [mean_pairwise_distance(x[y == k]) for k in range(n_classes) if int((y == k).sum()) >= 2]
    return sum(per) / len(per) if per else 0.0


def _overfit_stats(lt: Tensor, lh: Tensor) -> dict:
    """From D's logits on training reals ``lt`` (n,) and held-out reals ``lh`` (m,):

    - ``d_auc``: P(D ranks a training real above a held-out one), ties counted half: 0.5 when D
      cannot tell them apart, 1 when it has memorised its training set; free of the loss's
      scale (a critic's logits are unbounded) and of D's overall confidence;
    - ``r_t``: E[sign(D(x))] on training reals, ADA's overfitting heuristic (Karras et al. 2020).
    """
    above = (lt[:, None] > lh[None, :]).float().mean() + 0.5 * (lt[:, None] == lh[None, :]).float().mean()
    return {"d_auc": float(above), "r_t": float(torch.sign(lt).mean())}


class Probe:
    """Measures ``G`` and ``D`` on fixed inputs; see the module docstring."""

    def __init__(self, data: DataSource, prior, n_classes: int, n: int, seed: int, device: torch.device):
        g = torch.Generator().manual_seed(seed)
        self.data, self.device = data, device
        self.z = prior.sample(n, g, torch.device("cpu")).to(device)  # (n, z_dim)
        self.y = (torch.arange(n) % n_classes).to(device) if n_classes else None  # every class alike
        (self.real, self.y_real), held = _reals(data, n, seed)
        self.real, self.held = self.real.to(device), None
        self.y_real = self.y_real.to(device) if (self.y_real is not None and n_classes) else None
        if held is not None:
            hx, hy = held
            self.held = (hx.to(device), hy.to(device) if (hy is not None and n_classes) else None)
        self.real_diversity = mean_pairwise_distance(self.real)
        # conditional runs: the spread within each class, of reals and (in measure) of fakes
        self.real_class_diversity = _class_diversity(self.real, self.y_real, n_classes) if self.y is not None \
            and self.y_real is not None else None
        self.modes: Optional[KnownModes] = data if isinstance(data, KnownModes) else None

    def measure(self, G: nn.Module, D: nn.Module) -> dict:
        out = {}
        with _eval_mode(G, D):
            fake = G(self.z, self.y)  # (n, *shape), model space
            out["diversity"] = mean_pairwise_distance(fake) / max(self.real_diversity, 1e-12)
            if self.real_class_diversity:  # collapse within classes: each class drawn as a few prototypes
                n_classes = int(self.y.max()) + 1
                out["class_diversity"] = _class_diversity(fake, self.y, n_classes) / self.real_class_diversity
            if self.held is not None:
                lt, lh = D(self.real, self.y_real).float(), D(*self.held).float()  # logits (n // pac,)
                out["d_train"] = float(torch.sigmoid(lt).mean())
                out["d_holdout"] = float(torch.sigmoid(lh).mean())
                out.update(_overfit_stats(lt, lh))
        if self.modes is not None:
            m = mode_metrics(self.data.decode(fake.float().cpu()), self.modes.centers, self.modes.std)
            out["modes_probe"], out["n_modes"] = m["modes"], m["n_modes"]
        return out
