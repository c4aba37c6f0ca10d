"""Image-to-image datasets: paired (pix2pix), unpaired (CycleGAN) and super-resolution crops.

A paired or unpaired source serves one pair per sample, stacked along the channels: x
(B, 2C, H, W) = [a | b] in model space [-1, 1] (the game splits it). For ``paired`` the two
halves are the same-named images; for ``unpaired`` a and b are drawn independently, each
domain in its own reshuffled epochs. ``superres`` serves random high-resolution crops
(B, C, R, R) (R = ``data.resolution``); the game makes the low-resolution inputs by bicubic
downscaling, on the fly.

``data.path``: a folder (paired: ``A/`` and ``B/`` with the same file names, or pix2pix's
side-by-side layout, one image per pair with a on the left and b on the right; unpaired:
``A/`` and ``B/``; superres: any images under it), or a bundled demo built from images that
installed packages ship, nothing downloaded (``demos.py``): ``demo:edges`` (paired),
``demo:digits`` (unpaired), ``demo:photos`` (superres). Every 5th pair of a user's folder is
held out (never trained on); the demos hold out whole source images (``demos.py``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..config import DataConfig
from ..errors import GanforgeError
from .base import DataSource, Finite, Normalized, register_dataset
from .kinds import IMAGE
from .images import IMAGE_SUFFIXES, ImageData, _need_path
from .sampling import EpochSampler


def read_image(path: Path, channels: int) -> np.ndarray:
    """One image file as uint8 (H, W, C), C = 1 or 3; one-line error when unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                arr = np.array(im.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombWarning) as e:
        raise GanforgeError(f"{path}: not a readable image ({str(e).splitlines()[0][:80]})") from None
    return np.atleast_3d(arr)  # grey (H, W) -> (H, W, 1)


def resize(arr: np.ndarray, r: int) -> Tensor:
    """uint8 (H, W, C) -> uint8 (C, r, r), antialiased bilinear."""
    x = torch.from_numpy(np.array(arr)).permute(2, 0, 1).float()[None]
    if x.shape[-2:] != (r, r):
        x = torch.nn.functional.interpolate(x, size=(r, r), mode="bilinear", antialias=True, align_corners=False)
    return x[0].round().clamp(0, 255).to(torch.uint8)


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _split_every_5th(x: Tensor) -> tuple[Tensor, Optional[Tensor]]:
    """Training items and every 5th item held out (none held out below 5 items)."""
    if len(x) < 5:
        return x, None
    test = torch.arange(len(x)) % 5 == 4
    return x[~test], x[test]


def _channels(cfg: DataConfig) -> int:
    return cfg.channels or 3


def _demo(cfg: DataConfig, kind: str) -> Optional[str]:
    """The demo's name for ``data.path=demo:NAME``, else None; one-line error for a wrong name."""
    if not (cfg.path or "").startswith("demo:"):
        return None
    from .demos import DEMOS

    name = cfg.path[len("demo:"):]
    if DEMOS.get(name)[0] != kind:
        good = [n for n in DEMOS.names() if DEMOS.get(n)[0] == kind]
        raise GanforgeError(f"data.path={cfg.path}: data.name={kind} has the demo(s) {', '.join('demo:' + g for g in good)}")
    return name


def _paired_folder(cfg: DataConfig) -> Tensor:
    """uint8 (N, 2C, R, R) pairs from A/ + B/ (same names) or side-by-side images."""
    root = _need_path(cfg, "a folder with A/ and B/ (same file names) or side-by-side pairs")
    c, r = _channels(cfg), cfg.resolution
    if (root / "A").is_dir() and (root / "B").is_dir():
        a = {p.relative_to(root / "A").with_suffix("").as_posix(): p for p in _images_in(root / "A")}
        b = {p.relative_to(root / "B").with_suffix("").as_posix(): p for p in _images_in(root / "B")}
        only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        if only_a or only_b:
            ex = f"A/{only_a[0]}" if only_a else f"B/{only_b[0]}"
            raise GanforgeError(f"data.path={cfg.path}: {len(only_a) + len(only_b)} image(s) of A/ and B/ have no "
                                f"same-named partner ({len(only_a)} only in A/, {len(only_b)} only in B/), e.g. {ex}")
        pairs = []
        for name in sorted(a):
            ia, ib = read_image(a[name], c), read_image(b[name], c)
            if ia.shape[:2] != ib.shape[:2]:
                raise GanforgeError(f"data.path={cfg.path}: the pair '{name}' has images of different sizes "
                                    f"(A/ {ia.shape[1]}x{ia.shape[0]}, B/ {ib.shape[1]}x{ib.shape[0]}); "
                                    "a pair must be the same size")
            pairs.append(torch.cat([resize(ia, r), resize(ib, r)]))
    else:
        files = _images_in(root)
        pairs = []
        for f in files:  # pix2pix's layout: a on the left half, b on the right
            im = read_image(f, c)
            h, w = im.shape[:2]
            if w % 2:
                raise GanforgeError(f"{f}: a side-by-side pair needs an even width (a | b), found {w}x{h}; "
                                    f"or give data.path a folder with A/ and B/")
            pairs.append(torch.cat([resize(im[:, : w // 2], r), resize(im[:, w // 2:], r)]))
    if not pairs:
        raise GanforgeError(f"data.path={cfg.path}: no PNG or JPEG pairs (A/ and B/, or side-by-side images)")
    return torch.stack(pairs)


@register_dataset(IMAGE)
def paired(cfg: DataConfig, seed: int) -> ImageData:
    """Pairs (a, b) stacked as (2C, R, R): A/ + B/ or side-by-side files, or ``demo:edges``."""
    demo = _demo(cfg, "paired")
    if demo is not None:
        from .demos import build_demo

        train, test = build_demo(demo, cfg)
    else:
        train, test = _split_every_5th(_paired_folder(cfg))
    return ImageData(train, None, seed, holdout=(test, None) if test is not None else None, evaluator="energy")


class Unpaired(Normalized, DataSource, Finite):
    """Two domains a (Na, C, R, R) and b (Nb, C, R, R) uint8, each served in its own epochs;
    a sample is [a_i | b_j] (2C, R, R) with i and j independent. ``holdout``: (a, b) test
    images per domain, or None."""

    kind = IMAGE  # what one sample is (data/kinds)
    evaluator = "energy"

    def __init__(self, a: Tensor, b: Tensor, seed: int, holdout: Optional[tuple[Tensor, Tensor]] = None):
        self.a, self.b, self.holdout, self.seed = a, b, holdout, seed
        c = a.shape[1]
        self.shape = (2 * c,) + tuple(a.shape[2:])
        self.condition_spec = None  # unlabelled
        self.loc, self.scale = torch.full((2 * c, 1, 1), 0.5), torch.full((2 * c, 1, 1), 0.5)
        self.order_a, self.order_b = EpochSampler(len(a), seed), EpochSampler(len(b), seed + 7919)

    def keep_first(self, n: int) -> None:
        self.a, self.b = self.a[:n], self.b[:n]
        self.order_a, self.order_b = EpochSampler(len(self.a), self.seed), EpochSampler(len(self.b), self.seed + 7919)

    def nbytes(self) -> int:
        return self.a.numel() + self.b.numel()

    def hold_on(self, device: torch.device) -> None:
        self.a, self.b = self.a.to(device), self.b.to(device)

    def _pairs(self, ia: Tensor, ib: Tensor) -> Tensor:
        return torch.cat([self.a[ia.to(self.a.device)], self.b[ib.to(self.b.device)]], 1).float() / 255

    def sample(self, n: int) -> tuple[Tensor, None]:
        return self.encode(self._pairs(self.order_a.next(n), self.order_b.next(n))), None

    def reference(self, n: int, seed: int) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        ia, ib = torch.randperm(len(self.a), generator=g)[:n], torch.randperm(len(self.b), generator=g)[:n]
        m = min(len(ia), len(ib))
        return self._pairs(ia[:m], ib[:m]).cpu()

    def state_dict(self) -> dict:
        return {"a": self.order_a.state_dict(), "b": self.order_b.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.order_a.load_state_dict(state["a"])
        self.order_b.load_state_dict(state["b"])


@register_dataset(IMAGE)
def unpaired(cfg: DataConfig, seed: int) -> Unpaired:
    """Two domains, A/ and B/ under data.path (any names, any counts), or ``demo:digits``."""
    demo = _demo(cfg, "unpaired")
    if demo is not None:
        from .demos import build_demo

        (a, b), holdout = build_demo(demo, cfg)
        return Unpaired(a, b, seed, holdout)
    root = _need_path(cfg, "a folder with A/ and B/")
    if not ((root / "A").is_dir() and (root / "B").is_dir()):
        raise GanforgeError(f"data.path={cfg.path}: data.name=unpaired needs the sub-folders A/ and B/")
    c, r = _channels(cfg), cfg.resolution
    doms = []
    for d in ("A", "B"):
        files = _images_in(root / d)
        if not files:
            raise GanforgeError(f"data.path={cfg.path}: no PNG or JPEG image in {d}/")
        doms.append(_split_every_5th(torch.stack([resize(read_image(f, c), r) for f in files])))
    (a, ta), (b, tb) = doms
    return Unpaired(a, b, seed, (ta, tb) if ta is not None and tb is not None else None)


class Crops(Normalized, DataSource, Finite):
    """Random R x R crops (C, R, R) of whole images of any sizes (each at least R x R), drawn
    from the source's seeded generator: high-resolution targets for super-resolution.
    ``holdout``: the images never trained on (a list), or None."""

    kind = IMAGE  # what one sample is (data/kinds)
    evaluator = "energy"

    def __init__(self, images: list[Tensor], r: int, seed: int, holdout: Optional[list[Tensor]] = None):
        self.images, self.r, self.holdout = images, r, holdout
        c = images[0].shape[0]
        self.shape, self.condition_spec = (c, r, r), None
        self.loc, self.scale = torch.full((c, 1, 1), 0.5), torch.full((c, 1, 1), 0.5)
        self.gen = torch.Generator().manual_seed(seed)

    def keep_first(self, n: int) -> None:
        self.images = self.images[:n]

    def nbytes(self) -> int:
        return sum(x.numel() for x in self.images)

    def hold_on(self, device: torch.device) -> None:
        pass  # crops are cut on the CPU

    @staticmethod
    def crops(images: list[Tensor], r: int, n: int, g: torch.Generator) -> Tensor:
        """uint8 (n, C, r, r): an image drawn uniformly, then a uniform position in it."""
        out = []
        for i in torch.randint(len(images), (n,), generator=g).tolist():
            im = images[i]
            y = int(torch.randint(im.shape[1] - r + 1, (1,), generator=g))
            x = int(torch.randint(im.shape[2] - r + 1, (1,), generator=g))
            out.append(im[:, y: y + r, x: x + r])
        return torch.stack(out)

    def sample(self, n: int) -> tuple[Tensor, None]:
        return self.encode(self.crops(self.images, self.r, n, self.gen).float() / 255), None

    def reference(self, n: int, seed: int) -> Tensor:
        return self.crops(self.images, self.r, n, torch.Generator().manual_seed(seed)).float() / 255

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])


@register_dataset(IMAGE)
def superres(cfg: DataConfig, seed: int) -> Crops:
    """Random data.resolution crops of every image under data.path (or ``demo:photos``); the
    low-resolution inputs are made from them by the game (model.scale)."""
    r = cfg.resolution
    demo = _demo(cfg, "superres")
    if demo is not None:
        from .demos import build_demo

        train, test = build_demo(demo, cfg)
    else:
        root = _need_path(cfg, "a folder of images")
        files = _images_in(root) if root.is_dir() else [root]
        if not files:
            raise GanforgeError(f"data.path={cfg.path}: no PNG or JPEG image")
        ims = [torch.from_numpy(read_image(f, _channels(cfg))).permute(2, 0, 1).contiguous() for f in files]
        small = [f for f, im in zip(files, ims) if min(im.shape[1:]) < r]
        if small:
            raise GanforgeError(f"data.path={cfg.path}: {len(small)} image(s) smaller than data.resolution={r} "
                                f"(the crop size), e.g. {small[0]}; lower data.resolution or remove them")
        held = [i % 5 == 4 for i in range(len(ims))] if len(ims) >= 5 else [False] * len(ims)
        train = [im for im, h in zip(ims, held) if not h]
        test = [im for im, h in zip(ims, held) if h] or None
    return Crops(train, r, seed, test)
