"""Anomaly detection with a trained GAN: f-AnoGAN's izi_f encoder (Schlegl et al. 2019).

A GAN trained on normal data only maps the latent space onto normal data. An encoder E
(image -> z, the network of :mod:`.encoder`) is trained with G and D frozen, on the run's own
real training data, to minimise

    A(x) = ||x - G(E(x))||^2 / P  +  kappa * ||f_D(x) - f_D(G(E(x)))||^2 / F

(P values per sample, F features; f_D: D's penultimate features, read with a forward hook on
``D.features``, so D's parameters and forward are untouched). A normal input is reconstructed
well by G(E(x)); an anomalous one is not, and its residual is high: A(x) is the anomaly score,
its two parts are reported, and the pixel residual |x - G(E(x))| is the localisation map.

A share of the training data (``holdout``, 20 %) is kept out of E's training; its scores
calibrate the threshold at a requested false-positive rate (the (1 - fpr) quantile). G saw
those samples while training, E did not. A conditional run is scored under every class and
keeps the lowest score (an input is normal if it is normal for some class).

Saved in ``RUN/anomaly/``: ``encoder.pt`` (E's state_dict and settings, read with
``weights_only=True``) and ``anomaly.json`` (kappa, the step of the G it inverts, the
calibration scores). Reading the user's inputs and the files: :mod:`.anomaly_io`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from ..errors import GanforgeError
from .encoder import Encoder


class DFeatures:
    """f_D(x, y) -> (N, F): D's penultimate features of inputs in model space, one row per input.

    Read by a forward hook on ``D.features`` (the DCGAN and MLP discriminators' trunk before
    the logit head); a packed D (PacGAN) sees each input packed with copies of itself, so each
    row depends on its input alone. ``None`` from :meth:`of` when D has no such trunk."""

    def __init__(self, D: nn.Module):
        self.D = D.eval().requires_grad_(False)
        self.pac = int(getattr(D, "pac", 1))
        self._out: Optional[Tensor] = None

    @classmethod
    def of(cls, D: Optional[nn.Module]) -> Optional["DFeatures"]:
        return cls(D) if D is not None and isinstance(getattr(D, "features", None), nn.Module) else None

    def _keep(self, module, inputs, output) -> None:
        self._out = output

    def __call__(self, x: Tensor, y: Optional[Tensor]) -> Tensor:
        if self.pac > 1:
            x = x.repeat_interleave(self.pac, dim=0)  # (N * pac, *shape): packs of one input
            y = y.repeat_interleave(self.pac) if y is not None else None
        hook = self.D.features.register_forward_hook(self._keep)
        try:
            self.D(x, y)  # the logit is thrown away; the hook kept the trunk's output
        finally:
            hook.remove()
        return self._out.flatten(1)  # (N, F), e.g. F = c_last * 4 * 4 for DCGAN


@dataclass
class Parts:
    """Per-input residuals: ``pixel`` and ``feature`` (N,), ``score`` = pixel + kappa * feature,
    ``label`` (N,) the class scored under (conditional runs) or None, ``maps`` (N, H, W) the
    per-pixel squared residual in data space averaged over channels (image runs) or None."""

    pixel: Tensor
    feature: Tensor
    score: Tensor
    label: Optional[Tensor] = None
    maps: Optional[Tensor] = None


def _residuals(E: Encoder, G: nn.Module, fD: Optional[DFeatures], x: Tensor, y: Optional[Tensor]):
    """pixel (N,), feature (N,), reconstruction (N, *shape) of ``x`` in model space."""
    rec = G(E(x), y)
    pixel = (x - rec).pow(2).flatten(1).mean(1)
    feature = (fD(x, y) - fD(rec, y)).pow(2).mean(1) if fD is not None else torch.zeros_like(pixel)
    return pixel, feature, rec


def normal_data(data, seed: int, n_points: int = 12000) -> tuple[Tensor, Optional[Tensor]]:
    """The run's real training data in data space (N, *shape) and labels (N,) or None, as its
    kind holds them (``DataKind.normal_data``): the training images, the user's points, a
    table's rows each under its own condition, or ``n_points`` fresh draws of a known density."""
    return data.kind.normal_data(data, seed, n_points)


@dataclass
class Fitted:
    """A fitted anomaly encoder with its calibration: ``calibration`` are the scores (and
    parts) of the held-out normal split, used to set thresholds."""

    E: Encoder
    kappa: float
    g_step: int
    calibration: Parts
    info: dict = field(default_factory=dict)

    def threshold(self, fpr: float) -> float:
        """The score above which a fraction ``fpr`` of held-out normal inputs lies."""
        if not 0 < fpr < 1:
            raise GanforgeError(f"--fpr {fpr}: must be in (0, 1), e.g. 0.05")
        return float(torch.quantile(self.calibration.score.double(), 1 - fpr))


def fit(run, D: Optional[nn.Module], steps: int = 2000, batch_size: int = 64, lr: float = 1e-3, kappa: float = 1.0,
        holdout: float = 0.2, seed: int = 0, width: int = 32, init: Optional[Encoder] = None,
        progress: Optional[Callable[[int, float], None]] = None) -> Fitted:
    """Train the anomaly encoder of ``run`` (a :class:`~ganforge.trained.TrainedRun`) with its
    discriminator ``D`` (None: pixel residual only) on the run's real training data, and score
    the held-out split. ``init``: start from this encoder (e.g. RUN/encoder.pt)."""
    if steps < 1 or batch_size < 2:
        raise GanforgeError(f"--encoder-steps {steps}: must be >= 1 (and the batch >= 2)")
    if kappa < 0 or not 0 < holdout < 1:
        raise GanforgeError("anomaly fit: kappa must be >= 0 and holdout in (0, 1)")
    run._from_noise()
    torch.manual_seed(seed)
    G = run.G.eval().requires_grad_(False)
    fD = DFeatures.of(D)
    kappa = kappa if fD is not None else 0.0
    x_all, y_all = normal_data(run.data, seed)
    y_all = y_all if run.n_classes else None
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x_all), generator=gen)
    n_cal = max(int(round(holdout * len(x_all))), 1)
    if len(x_all) - n_cal < 2:
        raise GanforgeError(f"anomaly fit: the run's data holds {len(x_all)} samples; at least 3 are needed")
    cal, tr = order[:n_cal], order[n_cal:]
    E = Encoder(run.data.shape, run.prior.dim, width, run.data.kind)
    if init is not None:
        E.load_state_dict(init.state_dict())
    opt = torch.optim.Adam(E.parameters(), lr=lr, betas=(0.9, 0.99))
    loss = torch.zeros(())
    for step in range(1, steps + 1):
        idx = tr[torch.randint(len(tr), (batch_size,), generator=gen)]
        x = run.data.encode(x_all[idx])  # (B, *shape) model space
        y = y_all[idx] if y_all is not None else None
        pixel, feature, _ = _residuals(E, G, fD, x, y)
        loss = (pixel + kappa * feature).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None and (step % 100 == 0 or step == steps):
            progress(step, loss.item())
    E.eval()
    fitted = Fitted(E, kappa, run.step, Parts(torch.zeros(0), torch.zeros(0), torch.zeros(0)))
    fitted.calibration = score(fitted, run, D, x_all[cal], maps=False)
    fitted.info = {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed, "width": width,
                   "n_train": len(tr), "n_calibration": n_cal, "final_loss": round(loss.item(), 6),
                   "feature_layer": "D.features (the trunk before D's logit)" if fD is not None else None}
    return fitted


@torch.no_grad()
def score(fitted: Fitted, run, D: Optional[nn.Module], x: Tensor, batch: int = 256, maps: bool = True) -> Parts:
    """Scores of inputs ``x`` (N, *shape) in data space; per-pixel maps for images (``maps``)."""
    G = run.G.eval()
    fD = DFeatures.of(D) if fitted.kappa > 0 else None
    classes = range(run.n_classes) if run.n_classes else [None]
    own = run.data.kind.holds_conditions and run.n_classes  # a table row is scored under the condition it holds
    classes = ["own"] if own else classes
    image = run.data.kind.pixels  # residual maps of pictures
    out = {k: [] for k in ("pixel", "feature", "score", "label", "maps")}
    for i in range(0, len(x), batch):
        xb = run.data.encode(x[i: i + batch])  # model space
        best = None
        for k in classes:  # conditional: the class that explains the input best
            y = run.data.kind.conditions_of(run.data, xb) if k == "own" else torch.full((len(xb),), k, dtype=torch.long) \
                if k is not None else None
            pixel, feature, rec = _residuals(fitted.E, G, fD, xb, y)
            s = pixel + fitted.kappa * feature
            lab = y if k == "own" else torch.full_like(s, -1 if k is None else k, dtype=torch.long)
            cand = (pixel, feature, s, lab, rec)
            if best is None:
                best = cand
            else:
                win = s < best[2]
                best = tuple(torch.where(win.view(-1, *[1] * (c.dim() - 1)), c, b) for c, b in zip(cand, best))
        for key, v in zip(("pixel", "feature", "score", "label"), best):
            out[key].append(v)
        if image and maps:  # (B, H, W): squared residual in data space, mean over channels
            out["maps"].append((run.data.decode(best[4]) - x[i: i + batch]).pow(2).mean(1))
    cat = {k: torch.cat(v) if v else None for k, v in out.items()}
    return Parts(cat["pixel"], cat["feature"], cat["score"], cat["label"] if run.n_classes else None, cat["maps"])
