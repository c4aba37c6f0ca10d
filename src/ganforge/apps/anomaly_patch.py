"""Patch-level anomaly detection on images: a small GAN trained on p x p patches of the normal
images; its discriminator's features of every patch of an input, compared with those of normal
patches, give an anomaly map at the input's size.

Textures are stationary, so an anomaly is local: a whole-image GAN must reproduce every crop
exactly to show a small scratch in its residual, a patch GAN only has to learn what a p x p
piece of the texture looks like. The method (``ganforge anomaly fit RUN --method patch``):

1. a GAN on random p x p patches of the normal images (G: z -> patch, D: patch -> features ->
   logit, small MLPs; non-saturating loss, R1 on D), ``gan_steps`` steps;
2. a bank of D's features of normal patches (:func:`make_bank`);
3. the map (:func:`parts`): every p x p patch of an input (stride 1) gets the distance from its
   D features to the nearest in the bank; a pixel's value is the mean over the patches that
   cover it, so the map has the input's height and width. Optionally (``residual_weight`` > 0)
   a patch encoder E, trained with G and D frozen as f-AnoGAN's izi_f, adds its reconstruction
   residual |x - G(E(x))|^2, each map divided by its 99th percentile on normal images;
4. the image score (:func:`top_score`): the mean of the map's top 1 % of pixels.

All of it works in the run's model space ([-1, 1] pixels). Saved by :mod:`.anomaly_methods`.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import GanforgeError


def _mlp(dims: list, last: Optional[nn.Module] = None) -> nn.Sequential:
    layers: list = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(nn.LeakyReLU(0.2))
    if last is not None:
        layers.append(last)
    return nn.Sequential(*layers)


class PatchNets(nn.Module):
    """G: z (B, z_dim) -> patches (B, C*p*p) in [-1, 1]; D: patches -> features (B, 2w) (``D_features``)
    -> logit (B,) (``D_head``); E: patches -> z. Patches are flattened rows here."""

    def __init__(self, channels: int, patch: int, z_dim: int = 16, width: int = 128):
        super().__init__()
        self.channels, self.patch, self.z_dim, self.width = channels, patch, z_dim, width
        d = channels * patch * patch
        self.G = _mlp([z_dim, width, 2 * width, d], nn.Tanh())
        self.D_features = nn.Sequential(_mlp([d, 2 * width, width]), nn.LeakyReLU(0.2))
        self.D_head = nn.Linear(width, 1)
        self.E = _mlp([d, 2 * width, width, z_dim])

    def settings(self) -> dict:
        return {"channels": self.channels, "patch": self.patch, "z_dim": self.z_dim, "width": self.width}

    def D(self, x: Tensor) -> Tensor:
        return self.D_head(self.D_features(x)).squeeze(1)


def random_patches(x: Tensor, n: int, p: int, gen: torch.Generator) -> Tensor:
    """``n`` random p x p patches (n, C*p*p) of images ``x`` (N, C, H, W)."""
    N, C, H, W = x.shape
    i = torch.randint(N, (n,), generator=gen)
    ys = torch.randint(H - p + 1, (n,), generator=gen)
    xs = torch.randint(W - p + 1, (n,), generator=gen)
    r = torch.arange(p)
    rows = (ys[:, None] + r)[:, :, None].expand(n, p, p)  # (n, p, p)
    cols = (xs[:, None] + r)[:, None, :].expand(n, p, p)
    out = x[i[:, None, None, None], torch.arange(C)[None, :, None, None], rows[:, None], cols[:, None]]
    return out.reshape(n, C * p * p)


def check_patch(shape: tuple, patch: int) -> None:
    if patch < 2 or patch > min(shape[1], shape[2]):
        raise GanforgeError(f"--patch {patch}: must be from 2 to the images' side ({min(shape[1], shape[2])})")


def train(x: Tensor, patch: int = 8, gan_steps: int = 3000, encoder_steps: int = 1500, kappa: float = 1.0,
          batch: int = 128, seed: int = 0, z_dim: int = 16, width: int = 128,
          progress: Optional[Callable[[str, int, float], None]] = None) -> PatchNets:
    """Train the patch GAN, then the patch encoder, on normal images ``x`` (N, C, H, W) in model space."""
    check_patch(tuple(x.shape[1:]), patch)
    if gan_steps < 1 or encoder_steps < 0:
        raise GanforgeError(f"--steps {gan_steps}: must be >= 1 (and --encoder-steps >= 0)")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    nets = PatchNets(x.shape[1], patch, z_dim, width)
    d_params = list(nets.D_features.parameters()) + list(nets.D_head.parameters())
    opt_g = torch.optim.Adam(nets.G.parameters(), lr=2e-4, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(d_params, lr=2e-4, betas=(0.5, 0.99))
    for step in range(1, gan_steps + 1):
        real = random_patches(x, batch, patch, gen).requires_grad_(True)
        z = torch.randn(batch, z_dim, generator=gen)
        fake = nets.G(z)
        d_real, d_fake = nets.D(real), nets.D(fake.detach())
        (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean() + 5.0 * grad.pow(2).sum(1).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-nets.D(fake)).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        if progress is not None and (step % 500 == 0 or step == gan_steps):
            progress("patch GAN", step, loss_g.item())
    nets.G.requires_grad_(False)
    for p in d_params:
        p.requires_grad_(False)
    opt_e = torch.optim.Adam(nets.E.parameters(), lr=1e-3, betas=(0.9, 0.99))
    for step in range(1, encoder_steps + 1):
        real = random_patches(x, batch, patch, gen)
        rec = nets.G(nets.E(real))
        loss = (real - rec).pow(2).mean() + kappa * (nets.D_features(real) - nets.D_features(rec)).pow(2).mean()
        opt_e.zero_grad(set_to_none=True)
        loss.backward()
        opt_e.step()
        if progress is not None and (step % 500 == 0 or step == encoder_steps):
            progress("patch encoder", step, loss.item())
    return nets.eval()


def patches(x: Tensor, p: int) -> Tensor:
    """Every p x p patch of images ``x`` (B, C, H, W) at stride 1, as rows (B * L, C*p*p)."""
    B, C = x.shape[:2]
    return F.unfold(x, p).transpose(1, 2).reshape(-1, C * p * p)


def _fold(per: Tensor, B: int, H: int, W: int, p: int) -> Tensor:
    """Per-patch values (B*L, p*p) -> per-pixel means over the patches covering each pixel (B, H, W)."""
    L = (H - p + 1) * (W - p + 1)
    count = F.fold(F.unfold(torch.ones(1, 1, H, W), p), (H, W), p)  # (1, 1, H, W)
    return (F.fold(per.reshape(B, L, p * p).transpose(1, 2), (H, W), p) / count)[:, 0]


@torch.no_grad()
def knn_map(x: Tensor, bank: Tensor, p: int, features: Callable[[Tensor], Tensor] = lambda rows: rows,
            batch: int = 16) -> Tensor:
    """(N, H, W): per pixel, the mean over the p x p patches covering it of the distance from the
    patch's ``features`` (default: its pixels) to the nearest row of ``bank`` (M, F)."""
    out = []
    for i in range(0, len(x), batch):
        xb = x[i: i + batch]
        B, _, H, W = xb.shape
        dist = torch.cdist(features(patches(xb, p)), bank).min(1).values  # (B*L,)
        out.append(_fold(dist[:, None].expand(-1, p * p), B, H, W, p))
    return torch.cat(out)


@torch.no_grad()
def parts(nets: PatchNets, x: Tensor, bank: Tensor, residual: bool = True, batch: int = 16) -> dict:
    """The two maps (N, H, W) of images ``x`` (N, C, H, W) in model space: ``knn``, per pixel the mean
    over the patches covering it of the distance from the patch's D features to its nearest
    normal patch's (``bank``: (M, F) D features of normal patches); ``residual`` (when asked), the
    mean of the patch encoder's squared reconstruction residual at that pixel."""
    p = nets.patch
    out = {"knn": knn_map(x, bank, p, nets.D_features, batch)}
    if residual:
        res = []
        for i in range(0, len(x), batch):
            xb = x[i: i + batch]
            B, C, H, W = xb.shape
            rows = patches(xb, p)  # (B*L, C*p*p)
            r = (rows - nets.G(nets.E(rows))).pow(2).reshape(-1, C, p * p).mean(1)  # (B*L, p*p)
            res.append(_fold(r, B, H, W, p))
        out["residual"] = torch.cat(res)
    return out


def make_bank(nets: PatchNets, x: Tensor, n: int, seed: int) -> Tensor:
    """D's features (n, F) of ``n`` random patches of normal images ``x`` (N, C, H, W)."""
    with torch.no_grad():
        return nets.D_features(random_patches(x, n, nets.patch, torch.Generator().manual_seed(seed + 1)))


def combine(p: dict, scales: dict, residual_weight: float) -> Tensor:
    """The anomaly map: the D-feature kNN map plus ``residual_weight`` times the residual map, each
    divided by its ``scales`` (the 99th percentile of its values on normal images)."""
    m = p["knn"] / scales["knn"]
    return m + residual_weight * p["residual"] / scales["residual"] if residual_weight > 0 else m


def top_score(m: Tensor, top: float = 0.01) -> Tensor:
    """Image scores (N,) of maps (N, H, W): the mean of each map's top ``top`` share of pixels."""
    flat = m.flatten(1)
    k = max(1, int(round(top * flat.shape[1])))
    return flat.topk(k, dim=1).values.mean(1)
