"""An encoder E for a run's generator: image -> z, trained on G's own samples.

E is the data kind's trunk (strided convolutions for images, an MLP for vectors) trained so that
E(G(z)) = z and G(E(G(z))) = G(z): the latent loss ||E(G(z)) - z||^2 plus the image loss
||G(E(G(z))) - G(z)||^2 / D (the "izi" training of f-AnoGAN, Schlegl et al. 2019, on
generated images, where the true z is known). It gives :mod:`.project` a start next to the
answer, and anomaly scoring a fast latent. Saved in the run directory as ``encoder.pt``
(state_dict, its settings and the step of the G it inverts; read with ``weights_only=True``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from ..data.kinds import KINDS, DataKind, kind_of_shape
from ..errors import GanforgeError
from ..io import save_atomic

FILE = "encoder.pt"


class Encoder(nn.Module):
    """x (B, *shape) in model space -> z (B, z_dim); the trunk is the data kind's own
    (``DataKind.encoder_trunk``: strided convolutions for images, an MLP for vectors)."""

    def __init__(self, shape: tuple, z_dim: int, width: int = 32, kind: Optional[DataKind] = None):
        super().__init__()
        self.shape, self.z_dim, self.width = tuple(shape), z_dim, width
        self.kind = kind or kind_of_shape(self.shape)
        self.trunk, feat = self.kind.encoder_trunk(self.shape, width)  # (B, *shape) -> (B, feat)
        self.head = nn.Linear(feat, z_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.trunk(x))


def train_encoder(run, steps: int = 2000, batch_size: int = 64, lr: float = 1e-3, image_weight: float = 1.0,
                  seed: int = 0, width: int = 32, progress: Optional[Callable[[int, float], None]] = None) -> Encoder:
    """Fit an :class:`Encoder` to ``run``'s generator on fresh samples (its G stays frozen)."""
    if steps < 1 or batch_size < 2:
        raise GanforgeError("--encoder-steps must be >= 1 (and the batch >= 2)")
    torch.manual_seed(seed)
    G = run.G.eval().requires_grad_(False)
    device = next(G.parameters()).device
    E = Encoder(run.data.shape, run.prior.dim, width, run.data.kind).to(device)
    opt = torch.optim.Adam(E.parameters(), lr=lr, betas=(0.9, 0.99))
    gen = torch.Generator().manual_seed(seed + 1)
    for step in range(1, steps + 1):
        z = run.prior.sample(batch_size, gen).to(device)  # (B, z_dim)
        y = torch.randint(run.n_classes, (batch_size,), generator=gen).to(device) if run.n_classes else None
        with torch.no_grad():
            x = G(z, y)  # (B, *shape) model space
        z_hat = E(x)
        loss = (z_hat - z).pow(2).mean() + image_weight * (G(z_hat, y) - x).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None and (step % 100 == 0 or step == steps):
            progress(step, loss.item())
    return E.eval()


def save_encoder(E: Encoder, run_dir: Path, step: int) -> Path:
    path = Path(run_dir) / FILE
    save_atomic({"state": E.state_dict(), "shape": list(E.shape), "z_dim": E.z_dim, "width": E.width,
                 "kind": E.kind.name, "g_step": step}, path)
    return path


def saved_kind(saved: dict, run=None) -> DataKind:
    """The data kind of a saved encoder: its own record, else the run's (files written before
    kinds were recorded), else the one its sample shape implies."""
    if "kind" in saved:
        return KINDS.get(str(saved["kind"]))
    return run.data.kind if run is not None else kind_of_shape(tuple(saved["shape"]))


def load_encoder(run_dir: Path, run=None) -> Encoder:
    """The run's encoder; with ``run``, refused if it was fitted to another checkpoint's G."""
    path = Path(run_dir) / FILE
    if not path.is_file():
        raise GanforgeError(f"{run_dir}: no {FILE}; fit one first with `ganforge encoder {run_dir}`")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        E = Encoder(tuple(saved["shape"]), int(saved["z_dim"]), int(saved["width"]), saved_kind(saved, run))
        E.load_state_dict(saved["state"])
    except Exception as e:  # noqa: BLE001 - any failure means: not an encoder file of ours
        raise GanforgeError(f"{path}: not a readable ganforge encoder ({type(e).__name__})") from None
    if run is not None and int(saved["g_step"]) != run.step:
        raise GanforgeError(f"{path} was fitted to the generator of step {saved['g_step']}, the run is at step "
                            f"{run.step}; fit it again with `ganforge encoder {run_dir}`")
    return E.eval()


@torch.no_grad()
def encode(E: Encoder, run, x: Tensor) -> Tensor:
    """Latents (N, z_dim) of images ``x`` (N, *shape) in data space."""
    device = next(E.parameters()).device
    return E(run.data.encode(x).to(device)).cpu()
