"""Patch-level anomaly detection on images: a small GAN trained on p x p patches of the normal
images, a patch encoder fitted to it, and an anomaly map at the input's size.

Textures are stationary, so an anomaly is local: a whole-image GAN must reproduce every crop
exactly to show a small scratch in its residual, a patch GAN only has to know what a p x p
piece of the texture looks like. The method (``ganforge anomaly fit RUN --method patch``):

1. a GAN on random p x p patches of the normal images (G: z -> patch, D: patch -> logit,
   both small MLPs; non-saturating loss, R1 on D), ``gan_steps`` steps;
2. a patch encoder E (patch -> z), trained with G and D frozen on real patches as f-AnoGAN's
   izi_f: ||x - G(E(x))||^2 / P + kappa ||f_D(x) - f_D(G(E(x)))||^2 / F, ``encoder_steps``;
3. the map: every p x p patch of an input (stride 1) is reconstructed; a pixel's value is the
   mean over the patches that cover it of (that patch's squared residual at the pixel + kappa
   times the patch's D-feature residual); the map has the input's height and width;
4. the image score: the mean of the map's top ``top`` share of pixels (1 %).

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
    if gan_steps < 1 or encoder_steps < 1:
        raise GanforgeError("--gan-steps and --encoder-steps must be >= 1")
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


@torch.no_grad()
def maps(nets: PatchNets, x: Tensor, kappa: float = 1.0, batch: int = 16) -> Tensor:
    """The anomaly map (N, H, W) of images ``x`` (N, C, H, W) in model space: per pixel, the mean
    over the p x p patches covering it (stride 1) of the squared residual there plus kappa times
    the patch's D-feature residual."""
    p = nets.patch
    out = []
    for i in range(0, len(x), batch):
        xb = x[i: i + batch]
        B, C, H, W = xb.shape
        cols = F.unfold(xb, p)  # (B, C*p*p, L)
        L = cols.shape[2]
        patches = cols.transpose(1, 2).reshape(B * L, C * p * p)
        rec = nets.G(nets.E(patches))
        res = (patches - rec).pow(2).reshape(B * L, C, p * p).mean(1)  # (B*L, p*p): mean over channels
        feat = (nets.D_features(patches) - nets.D_features(rec)).pow(2).mean(1, keepdim=True)  # (B*L, 1)
        per = (res + kappa * feat).reshape(B, L, p * p).transpose(1, 2)  # (B, p*p, L)
        ones = torch.ones(1, 1, H, W)
        count = F.fold(F.unfold(ones, p), (H, W), p)  # (1, 1, H, W): patches covering each pixel
        out.append((F.fold(per, (H, W), p) / count)[:, 0])
    return torch.cat(out)


def top_score(m: Tensor, top: float = 0.01) -> Tensor:
    """Image scores (N,) of maps (N, H, W): the mean of each map's top ``top`` share of pixels."""
    flat = m.flatten(1)
    k = max(1, int(round(top * flat.shape[1])))
    return flat.topk(k, dim=1).values.mean(1)
