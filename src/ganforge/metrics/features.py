"""A small digit classifier, trained by ganforge itself on the bundled digits: the feature
space for FID/KID/precision/recall on digit data, and the judge for mode counting.

Nothing is downloaded. The classifier trains on the fixed training split of scikit-learn's
digits in seconds on a CPU and is cached on disk, keyed by a hash of its training data, its
architecture and its recipe: change any of them and it is retrained, never silently reused.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

RESOLUTION = 16  # the classifier's input size; images are resized to it
RECIPE = {"arch": "digitnet-v1", "epochs": 30, "batch": 64, "lr": 1e-3, "shift_px": 2, "seed": 0}


def cache_dir() -> Path:
    """``$GANFORGE_CACHE``, else ``~/.cache/ganforge``."""
    return Path(os.environ.get("GANFORGE_CACHE", Path.home() / ".cache" / "ganforge"))


class DigitNet(nn.Module):
    """(B, 1, 16, 16) in [0, 1] -> logits (B, 10); ``features`` gives the 128-d penultimate layer."""

    num_features = 128

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, 8, 8)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 64, 4, 4)
            nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU(),  # (B, 128)
        )
        self.head = nn.Linear(128, 10)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def to_classifier_input(x: Tensor) -> Tensor:
    """Images (B, C, H, W) in [0, 1] -> (B * C, 1, 16, 16): each channel is judged as a digit."""
    b, c, h, w = x.shape
    x = x.reshape(b * c, 1, h, w).float()
    if (h, w) != (RESOLUTION, RESOLUTION):
        x = F.interpolate(x, size=(RESOLUTION, RESOLUTION), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(0, 1)


def _shift(x: Tensor, px: int, gen: torch.Generator) -> Tensor:
    """Random translation by up to ``px`` pixels (zero padding), per batch."""
    dx, dy = (torch.randint(-px, px + 1, (2,), generator=gen)).tolist()
    return torch.roll(F.pad(x, (px, px, px, px)), shifts=(dy, dx), dims=(2, 3))[..., px:-px, px:-px]


@dataclass
class Classifier:
    net: DigitNet
    test_accuracy: float
    key: str  # the cache key: a hash of data, architecture and recipe

    @torch.no_grad()
    def logits(self, x: Tensor, batch_size: int = 1024) -> Tensor:
        """Logits (B * C, 10) of images (B, C, H, W) in [0, 1]."""
        xi = to_classifier_input(x)
        return torch.cat([self.net(xi[i : i + batch_size]) for i in range(0, len(xi), batch_size)])

    @torch.no_grad()
    def features(self, x: Tensor, batch_size: int = 1024) -> Tensor:
        """Features (B * C, 128) of images (B, C, H, W) in [0, 1]."""
        xi = to_classifier_input(x)
        return torch.cat([self.net.features(xi[i : i + batch_size]) for i in range(0, len(xi), batch_size)])


def _data() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    from ..data.images import digits_split

    (xtr, ytr), (xte, yte) = digits_split()
    prep = lambda a: to_classifier_input(torch.from_numpy(a)[:, None])  # noqa: E731
    return prep(xtr), torch.from_numpy(ytr), prep(xte), torch.from_numpy(yte)


def _key(xtr: Tensor, ytr: Tensor) -> str:
    h = hashlib.sha256()
    h.update(xtr.numpy().tobytes())
    h.update(ytr.numpy().tobytes())
    h.update(repr(sorted(RECIPE.items())).encode())
    h.update(torch.__version__.split("+")[0].encode())
    return h.hexdigest()[:20]


def _accuracy(net: nn.Module, x: Tensor, y: Tensor) -> float:
    with torch.no_grad():
        return float((net(x).argmax(1) == y).double().mean())


def train_classifier(xtr: Tensor, ytr: Tensor, xte: Tensor, yte: Tensor) -> tuple[DigitNet, float]:
    r = RECIPE
    gen = torch.Generator().manual_seed(r["seed"])
    with torch.random.fork_rng():  # leave the caller's global RNG untouched
        torch.manual_seed(r["seed"])
        net = DigitNet()
    opt = torch.optim.Adam(net.parameters(), lr=r["lr"])
    for _ in range(r["epochs"]):
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), r["batch"]):
            idx = perm[i : i + r["batch"]]
            loss = F.cross_entropy(net(_shift(xtr[idx], r["shift_px"], gen)), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    net.eval()
    return net, _accuracy(net, xte, yte)


_LOADED: dict[str, Classifier] = {}


def digit_classifier(cache: Optional[Path] = None) -> Classifier:
    """The digit classifier: from memory, from the disk cache, or trained now (and cached)."""
    xtr, ytr, xte, yte = _data()
    key = _key(xtr, ytr)
    if key in _LOADED:
        return _LOADED[key]
    path = Path(cache or cache_dir()) / f"digit-classifier-{key}.pt"
    net = DigitNet()
    if path.exists():
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state["net"])
        net.eval()
        acc = _accuracy(net, xte, yte)
    else:
        net, acc = train_classifier(xtr, ytr, xte, yte)
        path.parent.mkdir(parents=True, exist_ok=True)
        from ..train.checkpoint import save_atomic

        save_atomic({"net": net.state_dict(), "test_accuracy": acc, "key": key}, path)
    _LOADED[key] = Classifier(net, acc, key)
    return _LOADED[key]


__all__ = ["Classifier", "DigitNet", "digit_classifier", "cache_dir"]
