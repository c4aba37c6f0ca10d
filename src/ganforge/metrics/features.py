"""Small classifiers trained by ganforge itself: the feature spaces of its image metrics.

- The digit classifier, trained on the fixed training split of scikit-learn's bundled digits:
  the feature space for FID/KID/precision/recall on digit data and the class reader for mode counting
  (each channel is judged as one digit, so stacked digits get three).
- A classifier of the user's own labelled images (:func:`data_classifier`), for datasets with
  class labels: the same network on whole images at up to 32x32, trained on every 5th image
  held out.

Nothing is downloaded. A classifier trains in seconds to minutes on a CPU and is cached on
disk, keyed by a hash of its training data, its architecture and its recipe: change any of
them and it is retrained, never silently reused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..cache import cache_dir
from ..data.images import digits_split
from ..files import save_atomic

RESOLUTION = 16  # the classifier's input size; images are resized to it
# threads: the classifier is trained on this many threads whatever the caller's setting, since a
# convolution's sums are split by thread count and the weights (so every FID read in its feature
# space) would otherwise depend on which process happened to train it first
RECIPE = {"arch": "digitnet-v1", "epochs": 30, "batch": 64, "lr": 1e-3, "shift_px": 2, "seed": 0, "threads": 1}


class DigitNet(nn.Module):
    """(B, C, R, R) in [0, 1] -> logits (B, K); ``features`` gives the 128-d penultimate layer.
    The digit classifier is C = 1, R = 16, K = 10."""

    num_features = 128

    def __init__(self, channels: int = 1, n_classes: int = 10, resolution: int = RESOLUTION):
        super().__init__()
        q = resolution // 4
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, R/2, R/2)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 64, R/4, R/4)
            nn.Flatten(), nn.Linear(64 * q * q, 128), nn.ReLU(),  # (B, 128)
        )
        self.head = nn.Linear(128, n_classes)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def to_classifier_input(x: Tensor, per_channel: bool = True, resolution: int = RESOLUTION) -> Tensor:
    """Images (B, C, H, W) in [0, 1] -> (B * C, 1, R, R), each channel judged as a digit, or
    with ``per_channel=False`` (B, C, R, R), whole images."""
    b, c, h, w = x.shape
    x = x.reshape(b * c, 1, h, w).float() if per_channel else x.float()
    if (h, w) != (resolution, resolution):
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
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
    per_channel: bool = True  # digits: every channel is one digit; else whole images
    resolution: int = RESOLUTION
    n_classes: int = 10
    space: str = ""  # the feature space, in words, for provenance

    @torch.no_grad()
    def logits(self, x: Tensor, batch_size: int = 1024) -> Tensor:
        """Logits (B * C, K) of images (B, C, H, W) in [0, 1] ((B, K) for whole images)."""
        xi = to_classifier_input(x, self.per_channel, self.resolution)
        return torch.cat([self.net(xi[i : i + batch_size]) for i in range(0, len(xi), batch_size)])

    @torch.no_grad()
    def features(self, x: Tensor, batch_size: int = 1024) -> Tensor:
        """Features (B * C, 128) of images (B, C, H, W) in [0, 1] ((B, 128) for whole images)."""
        xi = to_classifier_input(x, self.per_channel, self.resolution)
        return torch.cat([self.net.features(xi[i : i + batch_size]) for i in range(0, len(xi), batch_size)])


def _data() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    (xtr, ytr), (xte, yte) = digits_split()
    prep = lambda a: to_classifier_input(torch.from_numpy(a)[:, None])  # noqa: E731
    return prep(xtr), torch.from_numpy(ytr), prep(xte), torch.from_numpy(yte)


def _key(xtr: Tensor, ytr: Tensor, extra: str = "") -> str:
    h = hashlib.sha256()
    h.update(xtr.numpy().tobytes())
    h.update(ytr.numpy().tobytes())
    h.update(repr(sorted(RECIPE.items())).encode())
    h.update(extra.encode())
    h.update(torch.__version__.split("+")[0].encode())
    return h.hexdigest()[:20]


def _accuracy(net: nn.Module, x: Tensor, y: Tensor) -> float:
    with torch.no_grad():
        return float((net(x).argmax(1) == y).double().mean())


def train_classifier(xtr: Tensor, ytr: Tensor, xte: Tensor, yte: Tensor, n_classes: int = 10) -> tuple[DigitNet, float]:
    """Train on (N, C, R, R) images in [0, 1] and labels (N,); return the net and its test accuracy."""
    r = RECIPE
    gen = torch.Generator().manual_seed(r["seed"])
    with torch.random.fork_rng():  # leave the caller's global RNG untouched
        torch.manual_seed(r["seed"])
        net = DigitNet(xtr.shape[1], n_classes, xtr.shape[-1])
    opt = torch.optim.Adam(net.parameters(), lr=r["lr"])
    threads = torch.get_num_threads()
    torch.set_num_threads(r["threads"])  # the same weights whoever trains it (see RECIPE)
    try:
        for _ in range(r["epochs"]):
            perm = torch.randperm(len(xtr), generator=gen)
            for i in range(0, len(xtr), r["batch"]):
                idx = perm[i : i + r["batch"]]
                loss = F.cross_entropy(net(_shift(xtr[idx], r["shift_px"], gen)), ytr[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    net.eval()
    return net, _accuracy(net, xte, yte)


_LOADED: dict[str, Classifier] = {}


def _cached(name: str, key: str, xtr: Tensor, ytr: Tensor, xte: Tensor, yte: Tensor, n_classes: int,
            cache: Optional[Path]) -> tuple[DigitNet, float]:
    """The classifier of this key: from the disk cache, or trained now and cached."""
    path = Path(cache or cache_dir()) / f"{name}-{key}.pt"
    if path.exists():
        net = DigitNet(xtr.shape[1], n_classes, xtr.shape[-1])
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["net"])
        net.eval()
        return net, _accuracy(net, xte, yte)
    net, acc = train_classifier(xtr, ytr, xte, yte, n_classes)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomic({"net": net.state_dict(), "test_accuracy": acc, "key": key}, path)
    return net, acc


def digit_classifier(cache: Optional[Path] = None) -> Classifier:
    """The digit classifier: from memory, from the disk cache, or trained now (and cached)."""
    xtr, ytr, xte, yte = _data()
    key = _key(xtr, ytr)
    if key not in _LOADED:
        net, acc = _cached("digit-classifier", key, xtr, ytr, xte, yte, 10, cache)
        space = (f"ganforge digit classifier {RECIPE['arch']} (128 features per channel, "
                 f"test accuracy {acc:.4f}, cache key {key})")
        _LOADED[key] = Classifier(net, acc, key, space=space)
    return _LOADED[key]


def data_classifier(images: Tensor, labels: Tensor, n_classes: int, cache: Optional[Path] = None) -> Classifier:
    """A classifier of the user's labelled images (N, C, H, W) uint8 with labels (N,): trained on
    4 of every 5 images, tested on the 5th, at min(H, 32) pixels; cached by a content hash."""
    r = min(32, images.shape[-1])
    x = to_classifier_input(images.float() / 255, per_channel=False, resolution=r)  # (N, C, r, r)
    test = torch.arange(len(x)) % 5 == 0
    xtr, ytr, xte, yte = x[~test], labels[~test], x[test], labels[test]
    key = _key(xtr, ytr, f"data-classifier:{n_classes}")
    if key not in _LOADED:
        net, acc = _cached("data-classifier", key, xtr, ytr, xte, yte, n_classes, cache)
        space = (f"a classifier ganforge trained on this dataset's labels ({RECIPE['arch']} on {r}x{r} images, "
                 f"{len(xtr)} training images, {n_classes} classes, held-out accuracy {acc:.4f}, 128 features, "
                 f"cache key {key}); not comparable with Inception FID")
        _LOADED[key] = Classifier(net, acc, key, per_channel=False, resolution=r, n_classes=n_classes, space=space)
    return _LOADED[key]


__all__ = ["Classifier", "DigitNet", "data_classifier", "digit_classifier", "cache_dir"]
