"""Video GANs on clips (B, C, T, S, S) in [-1, 1]: MoCoGAN and a 3-D convolutional baseline.

**MoCoGAN** (Tulyakov, Liu, Yang and Kautz 2018, ``mocogan``): a clip is a fixed *content* code
and a *motion* path. z (B, z_dim), drawn from the run's prior like every ganforge G, is read
as the content code z_c (B, d_c) and per-frame motion noise eps (B, T, d_e), with
d_e = max(1, z_dim // 2T) and d_c = z_dim - T d_e (z_dim = 128 at T = 16: d_c = 64, d_e = 4);
a GRU cell turns eps_t into the motion code z_m(t) (B, d_m) (MoCoGAN's recurrent motion
generator, h_0 = 0), and one image generator (DCGAN-like transposed convolutions, batch norm,
tanh) draws every frame from [z_c, z_m(t)] (+ the class embedding). So the content code alone
fixes what moves, and the motion noise alone how (``interpolate`` varies one or the other).
MoCoGAN has two discriminators, an image D on single frames and a video D (3-D
convolutions) on clips, trained on the sum of their losses. Here they are one module whose
logit is their sum, ``D(x) = D_V(x) + mean_t D_I(x_t)`` (B,), with D_I judging every frame
rather than one sampled frame: the noise -> data game, its losses, penalties, the doctor
and exact resume apply unchanged; the catch is that the two heads share one sigmoid (a
product of experts), where MoCoGAN gives each its own loss.

**The 3-D baseline** (``video3d``, in the spirit of VGAN, Vondrick et al. 2016, and TGAN, Saito
et al. 2017, single stream): G maps z through transposed 3-D convolutions from a (T_0, 4, 4)
volume to (C, T, S, S), doubling space at each level and time while it is below T; D is the
same video D as MoCoGAN's.

Sizes: S a power of two from 16 to 64, T a power of two from 4 to 32 (one-line errors
otherwise). Conditioning (``model.conditional=true``, class ids: the digit class or the
motion direction): a class embedding concatenated to G's code, projection in D (Miyato and
Koyama 2018). ``g_width``/``d_width`` are the channels next to the pixels (x2 per halving, up
to x8).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from ..config import ModelConfig
from ..errors import GanforgeError
from .base import register_model
from .layers import maybe_spectral


def _check(shape: tuple, name: str) -> tuple[int, int, int, int]:
    if len(shape) != 4:
        raise GanforgeError(f"model.name={name} builds clips (C, T, H, W); this data's samples are {tuple(shape)}")
    c, t, h, w = shape
    pow2 = lambda v: v & (v - 1) == 0  # noqa: E731
    if h != w or not pow2(h) or not 16 <= h <= 64:
        raise GanforgeError(f"data.resolution={h}: model.name={name} builds square frames of 16, 32 or 64 px")
    if not pow2(t) or not 4 <= t <= 32:
        raise GanforgeError(f"data.window={t}: model.name={name} builds clips of 4, 8, 16 or 32 frames")
    return c, t, h, int(math.log2(h)) - 2


def _ch(width: int, k: int) -> int:
    return width * min(2**k, 8)


def _init(m: nn.Module) -> None:
    """DCGAN's N(0, 0.02) weights and N(1, 0.02) norm gains."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Conv3d, nn.ConvTranspose3d)):
        plist = getattr(m, "parametrizations", None)
        nn.init.normal_(plist.weight.original if plist is not None else m.weight, 0.0, 0.02)
    elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)) and m.affine:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class VideoD(nn.Module):
    """x (B, C, T, S, S) [, y (B,)] -> logits (B,): strided 3-D convolutions (time halved while
    above 1), LeakyReLU(0.2), a linear head, projection on the class."""

    def __init__(self, shape: tuple, width: int, spectral: bool, n_classes: int = 0):
        super().__init__()
        c, t, s, levels = _check(shape, "video D")
        sn = maybe_spectral(spectral)
        layers, ch = [], c
        for k in range(levels):
            st = 2 if t > 1 else 1
            out = _ch(width, k)
            layers += [sn(nn.Conv3d(ch, out, (4 if st == 2 else 3, 4, 4), (st, 2, 2), 1)), nn.LeakyReLU(0.2)]
            ch, t = out, t // st
        self.features = nn.Sequential(*layers)  # (B, ch, t, 4, 4)
        self.head = sn(nn.Linear(ch * t * 16, 1))
        self.project = nn.Embedding(n_classes, ch) if n_classes else None

    def forward(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        h = self.features(x)
        logits = self.head(h.flatten(1)).squeeze(1)  # (B,)
        if self.project is not None:
            logits = logits + (self.project(y) * h.sum(dim=(2, 3, 4))).sum(1)
        return logits


class ImageD(nn.Module):
    """Frames (N, C, S, S) [, y (N,)] -> logits (N,): DCGAN's D with projection."""

    def __init__(self, c: int, s: int, levels: int, width: int, spectral: bool, n_classes: int = 0):
        super().__init__()
        sn = maybe_spectral(spectral)
        layers, ch = [], c
        for k in range(levels):
            layers += [sn(nn.Conv2d(ch, _ch(width, k), 4, 2, 1)), nn.LeakyReLU(0.2)]
            ch = _ch(width, k)
        self.features = nn.Sequential(*layers)  # (N, ch, 4, 4)
        self.head = sn(nn.Conv2d(ch, 1, 4, 1, 0))
        self.project = nn.Embedding(n_classes, ch) if n_classes else None

    def forward(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        h = self.features(x)
        logits = self.head(h).flatten()
        if self.project is not None:
            logits = logits + (self.project(y) * h.sum(dim=(2, 3))).sum(1)
        return logits


class MoCoGANDiscriminator(nn.Module):
    """D_V(x) + mean over frames of D_I(x_t): (B, C, T, S, S) -> (B,)."""

    def __init__(self, shape: tuple, width: int, spectral: bool, n_classes: int = 0):
        super().__init__()
        c, t, s, levels = _check(shape, "mocogan")
        self.video = VideoD(shape, width, spectral, n_classes)
        self.image = ImageD(c, s, levels, width, spectral, n_classes)

    def forward(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        B, C, T, S, _ = x.shape
        frames = x.transpose(1, 2).reshape(B * T, C, S, S)  # (B*T, C, S, S)
        yf = y.repeat_interleave(T) if y is not None else None
        return self.video(x, y) + self.image(frames, yf).view(B, T).mean(1)


class FrameG(nn.Module):
    """Codes (N, d) -> frames (N, C, S, S) in [-1, 1]: DCGAN's generator."""

    def __init__(self, d: int, c: int, levels: int, width: int):
        super().__init__()
        chans = [_ch(width, k) for k in range(levels - 1, -1, -1)]
        layers: list[nn.Module] = [nn.ConvTranspose2d(d, chans[0], 4, 1, 0, bias=False), nn.BatchNorm2d(chans[0]),
                                   nn.ReLU()]
        for a, b in zip(chans, chans[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]
        layers += [nn.ConvTranspose2d(chans[-1], c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h[:, :, None, None])


def motion_split(z_dim: int, frames: int) -> tuple[int, int]:
    """(d_c, d_e): content width and per-frame motion noise width of z (B, z_dim)."""
    d_e = max(1, z_dim // (2 * frames))
    d_c = z_dim - frames * d_e
    if d_c < 1:
        raise GanforgeError(f"model.z_dim={z_dim}: mocogan reads z as a content code and {frames} frames of motion "
                            f"noise; use model.z_dim >= {2 * frames} (e.g. {8 * frames})")
    return d_c, d_e


class MoCoGANGenerator(nn.Module):
    """z (B, z_dim) [, y (B,)] -> clips (B, C, T, S, S): content fixed per clip, motion from a GRU cell."""

    def __init__(self, shape: tuple, z_dim: int, width: int, n_classes: int = 0):
        super().__init__()
        c, t, s, levels = _check(shape, "mocogan")
        self.frames = t
        self.d_c, self.d_e = motion_split(z_dim, t)
        self.d_m = max(8, self.d_c // 2)  # the motion code's width
        self.rnn = nn.GRUCell(self.d_e, self.d_m)
        self.embed = nn.Embedding(n_classes, self.d_c) if n_classes else None
        d = self.d_c * (2 if n_classes else 1) + self.d_m
        self.frame = FrameG(d, c, levels, width)

    def split(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """z (B, z_dim) -> content (B, d_c), motion noise (B, T, d_e)."""
        # -1, not len(z): a traced export (ONNX, TorchScript) keeps the batch size free
        return z[:, : self.d_c], z[:, self.d_c : self.d_c + self.frames * self.d_e].reshape(-1, self.frames, self.d_e)

    def motion(self, eps: Tensor) -> Tensor:
        """Motion codes (B, T, d_m) from the noise (B, T, d_e), h_0 = 0."""
        h = (eps[:, 0, :1] * 0).expand(-1, self.d_m)  # h_0 = 0, (B, d_m)
        out = []
        for t in range(eps.shape[1]):
            h = self.rnn(eps[:, t], h)
            out.append(h)
        return torch.stack(out, 1)

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        zc, eps = self.split(z)
        if self.embed is not None:
            zc = torch.cat([zc, self.embed(y)], 1)
        zm = self.motion(eps)  # (B, T, d_m)
        T = self.frames
        codes = torch.cat([zc[:, None].expand(-1, T, -1), zm], 2).reshape(-1, zc.shape[1] + zm.shape[2])
        frames = self.frame(codes)  # (B*T, C, S, S)
        return frames.reshape(-1, T, *frames.shape[1:]).transpose(1, 2).contiguous()  # (B, C, T, S, S)


class Video3DGenerator(nn.Module):
    """z (B, z_dim) [, y] -> (B, C, T, S, S): transposed 3-D convolutions from (T_0, 4, 4)."""

    def __init__(self, shape: tuple, z_dim: int, width: int, n_classes: int = 0):
        super().__init__()
        c, t, s, levels = _check(shape, "video3d")
        t0 = max(1, t >> levels)
        self.embed = nn.Embedding(n_classes, z_dim) if n_classes else None
        chans = [_ch(width, k) for k in range(levels - 1, -1, -1)]
        c_in = z_dim * (2 if n_classes else 1)
        layers: list[nn.Module] = [nn.ConvTranspose3d(c_in, chans[0], (t0, 4, 4), 1, 0, bias=False),
                                   nn.BatchNorm3d(chans[0]), nn.ReLU()]
        cur = t0
        for i, (a, b) in enumerate([*zip(chans, chans[1:]), (chans[-1], c)]):
            st = 2 if cur < t else 1
            layers.append(nn.ConvTranspose3d(a, b, (4 if st == 2 else 3, 4, 4), (st, 2, 2), 1,
                                             bias=i == len(chans) - 1))
            cur *= st
            layers += [nn.BatchNorm3d(b), nn.ReLU()] if i < len(chans) - 1 else [nn.Tanh()]
        if cur != t:
            raise GanforgeError(f"data.window={t}: model.name=video3d reaches {cur} frames at {s} px")
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], 1)
        return self.net(z[:, :, None, None, None])


def _finish(G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
    G.apply(_init)
    D.apply(_init)
    return G, D


@register_model(kinds=("video",), d_norms=("none", "spectral"))
def mocogan(cfg: ModelConfig, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """MoCoGAN: content + GRU motion codes -> an image G per frame; D = video D + image D."""
    G = MoCoGANGenerator(shape, cfg.z_dim, cfg.g_width, n_classes)
    D = MoCoGANDiscriminator(shape, cfg.d_width, cfg.d_norm == "spectral", n_classes)
    return _finish(G, D)


@register_model(kinds=("video",), d_norms=("none", "spectral"))
def video3d(cfg: ModelConfig, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """The 3-D convolutional baseline (VGAN/TGAN style, one stream): 3-D G, video D."""
    G = Video3DGenerator(shape, cfg.z_dim, cfg.g_width, n_classes)
    D = VideoD(shape, cfg.d_width, cfg.d_norm == "spectral", n_classes)
    return _finish(G, D)
