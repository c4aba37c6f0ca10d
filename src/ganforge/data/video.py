"""Video datasets: ``data.name=moving_digits`` (one digit), ``moving_digits2`` (two) and ``videos``
(the user's files). One sample is a clip (C, T, H, W) (``data/kinds/video.py``).

Model space is [-1, 1] (``(x - 0.5) / 0.5``, a tanh G); data space [0, 1].

- ``moving_digits`` / ``moving_digits2``: ``moving_digits.py``'s bouncing digits, T =
  ``data.window`` frames (default 16) on a ``data.resolution`` canvas (32 or 64). Without
  ``data.path`` the clips are made on the fly, endlessly, from a generator seeded with the run's
  seed (the same seed gives the same clips; its state is in the checkpoint). With
  ``data.path=MD.gfd`` (``ganforge dataset build video:moving-digits --out MD.gfd``) the set's
  training clips are served in reshuffled epochs and its frames/size/digits come from the set.
  Either way ``reference`` draws clips of the *held-out* digits. Conditions:
  ``data.target=class`` (default with ``model.conditional=true``: the first digit's class, 10
  classes) or ``data.target=direction`` (the initial direction, 8 compass sectors).
- ``videos``: ``data.path`` a folder of GIF/MP4/WebM files or of frame folders (or one file),
  converted to ``data.channels`` (default 1, grey), resized to ``data.resolution`` and cut into
  clips of ``data.window`` frames (default 16) every ``data.stride`` frames (default the
  window: no overlap). Unreadable files and videos shorter than the window are skipped and
  counted in ``info``; every 5th clip is held out as the reference. Unlabelled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..conditions import ClassIds
from ..config import DataConfig
from ..errors import GanforgeError
from .base import DataSource, Finite, Normalized, register_dataset
from .kinds.video import VIDEO
from .moving_digits import DIRECTIONS, check_options, make_clips
from .sampling import EpochSampler

TARGETS = ("class", "direction")


def _spec(target: Optional[str]) -> tuple[str, ClassIds]:
    target = target or "class"
    if target not in TARGETS:
        raise GanforgeError(f"data.target={target}: moving digits are labelled by {' or '.join(TARGETS)}")
    if target == "class":
        return target, ClassIds(10, names=[str(i) for i in range(10)])
    return target, ClassIds(8, names=list(DIRECTIONS))


def _label(arrays: dict, target: str) -> Tensor:
    """(N,) int64: the first digit's class or the initial direction."""
    y = arrays["classes"][:, 0] if target == "class" else arrays["direction"]
    return torch.from_numpy(np.array(y, dtype=np.int64))


def _unit(shape_c: int) -> tuple[Tensor, Tensor]:
    return torch.full((shape_c, 1, 1, 1), 0.5), torch.full((shape_c, 1, 1, 1), 0.5)


class MovingDigits(Normalized, DataSource):
    """Moving digits made on the fly: an endless stream of training clips from the training
    digits, drawn from a generator seeded with ``seed`` (its state is the source's state)."""

    kind = VIDEO
    evaluator = "video"

    def __init__(self, digits: int, frames: int, size: int, seed: int, target: Optional[str] = None):
        check_options(digits, frames, size, "data")
        self.digits, self.frames, self.size = digits, frames, size
        self.shape = (1, frames, size, size)
        self.loc, self.scale = _unit(1)
        self.target, self.condition_spec = _spec(target)
        self.gen = torch.Generator().manual_seed(seed)
        self.info = {"format": "generated", "digits": digits, "frames": frames, "size": size}

    def sample(self, n: int) -> tuple[Tensor, Optional[Tensor]]:
        """x (n, 1, T, S, S) in [-1, 1], labels (n,) (class or direction)."""
        a = make_clips(n, self.digits, self.frames, self.size, "train", self.gen)
        return self.encode(torch.from_numpy(a["clips"]).float() / 255), _label(a, self.target)

    def labelled(self, n: int, seed: int) -> tuple[Tensor, Tensor, dict]:
        """``n`` clips of the held-out digits in data space, their labels and every array
        (classes, direction, centres, bounces), from a generator seeded with ``seed``."""
        a = make_clips(n, self.digits, self.frames, self.size, "test", torch.Generator().manual_seed(seed))
        return torch.from_numpy(a["clips"]).float() / 255, _label(a, self.target), a

    def reference(self, n: int, seed: int) -> Tensor:
        return self.labelled(n, seed)[0]

    def training_clips(self, n: int, seed: int) -> tuple[Tensor, dict]:
        """``n`` clips of the training digits (data space) and their arrays, seeded with ``seed``."""
        a = make_clips(n, self.digits, self.frames, self.size, "train", torch.Generator().manual_seed(seed))
        return torch.from_numpy(a["clips"]).float() / 255, a

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])


class VideoClips(Normalized, DataSource, Finite):
    """Clips held in memory (uint8 (N, C, T, H, W)), served in reshuffled epochs; ``holdout``
    (uint8 clips, labels or None, arrays) is the reference. ``labels`` (N,) or None."""

    kind = VIDEO
    evaluator = "video"

    def __init__(self, clips: np.ndarray, labels: Optional[Tensor], holdout: tuple, seed: int,
                 spec: Optional[ClassIds], info: dict, digits: int = 0):
        self.clips = torch.from_numpy(np.array(clips))  # (N, C, T, H, W) uint8
        self.labels = labels
        self.holdout = holdout  # (uint8 clips (M, C, T, H, W), labels (M,) or None, arrays dict)
        self.shape = tuple(self.clips.shape[1:])
        self.loc, self.scale = _unit(self.shape[0])
        self.condition_spec = spec
        self.seed, self.info, self.digits = seed, info, digits
        self.order = EpochSampler(len(self.clips), seed)
        self.served: Optional[Tensor] = None

    def sample(self, n: int) -> tuple[Tensor, Optional[Tensor]]:
        idx = self.order.next(n)
        y = self.labels[idx] if self.labels is not None else None
        if self.served is not None:
            return self.served[idx.to(self.served.device)], (y.to(self.served.device) if y is not None else None)
        return self.encode(self.clips[idx].float() / 255), y

    def labelled(self, n: int, seed: int) -> tuple[Tensor, Optional[Tensor], dict]:
        """min(n, M) held-out clips in data space, their labels (or None) and arrays, seeded."""
        clips, labels, arrays = self.holdout
        idx = torch.randperm(len(clips), generator=torch.Generator().manual_seed(seed))[:n]
        sub = {k: np.asarray(v)[idx.numpy()] for k, v in arrays.items()}
        return torch.from_numpy(np.asarray(clips)[idx.numpy()]).float() / 255, \
            (labels[idx] if labels is not None else None), sub

    def reference(self, n: int, seed: int) -> Tensor:
        return self.labelled(n, seed)[0]

    def training_clips(self, n: int, seed: int) -> tuple[Tensor, dict]:
        idx = torch.randperm(len(self.clips), generator=torch.Generator().manual_seed(seed))[:n]
        return self.clips[idx].float() / 255, {}

    def keep_first(self, n: int) -> None:
        self.clips = self.clips[:n]
        self.labels = self.labels[:n] if self.labels is not None else None
        self.order = EpochSampler(len(self.clips), self.seed)
        self.served = None

    def nbytes(self) -> int:
        return self.clips.numel() * self.clips.element_size()

    def hold_on(self, device: torch.device) -> None:
        self.served = self.encode(self.clips.float() / 255).to(device)

    def state_dict(self) -> dict:
        return self.order.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.order.load_state_dict(state)


def _moving(cfg: DataConfig, seed: int, digits: int):
    if cfg.path:
        from .generated import open_set

        s = open_set(cfg.path, expect="video:moving-digits")
        o = s.options
        if (cfg.window and cfg.window != o["frames"]) or (cfg.resolution not in (32, o["size"])):
            raise GanforgeError(f"data.path={cfg.path}: a set of {o['frames']} frames at {o['size']} px; leave "
                                "data.window and data.resolution out (or build another set)")
        target, spec = _spec(cfg.target)
        keys = ("classes", "direction", "centres", "bounces")
        train = {k: np.asarray(s.array(f"train_{k}")) for k in keys}
        test = {k: np.asarray(s.array(f"test_{k}")) for k in keys}
        holdout = (np.asarray(s.array("test_clips")), _label(test, target), test)
        data = VideoClips(np.asarray(s.array("train_clips")), _label(train, target), holdout, seed, spec,
                          {"format": "generated set", "path": str(cfg.path), **o}, digits=o["digits"])
        return data
    return MovingDigits(digits, cfg.window or 16, cfg.resolution, seed, cfg.target)


@register_dataset(VIDEO)
def moving_digits(cfg: DataConfig, seed: int):
    """One bouncing digit, 16 frames (``data.window``) at 32 px (``data.resolution``); on the fly, or
    ``data.path`` a ``video:moving-digits`` set."""
    return _moving(cfg, seed, 1)


@register_dataset(VIDEO)
def moving_digits2(cfg: DataConfig, seed: int):
    """Two bouncing digits, as ``moving_digits``."""
    return _moving(cfg, seed, 2)


@register_dataset(VIDEO)
def videos(cfg: DataConfig, seed: int) -> VideoClips:
    """The user's videos: ``data.path`` a folder of GIF/MP4/WebM files or frame folders."""
    from .kinds.video_io import cut_clips, read_video

    if not cfg.path:
        raise GanforgeError("data.path: data.name=videos needs data.path=FOLDER (GIF/MP4/WebM files or folders of "
                            "frames)")
    window = cfg.window or 16
    stride = cfg.stride or window
    channels = cfg.channels or 1
    if channels not in (1, 3):
        raise GanforgeError(f"data.channels={channels}: videos are 1 (grey) or 3 (RGB) channels")
    vids, unreadable = read_video(Path(cfg.path))
    x, names, short = cut_clips(vids, window, stride, channels, cfg.resolution)
    if len(x) < 2:
        raise GanforgeError(f"data.path={cfg.path}: {len(x)} clips of {window} frames (data.window); {short} of "
                            f"{len(vids)} videos are shorter" + (f", {unreadable} files unreadable" if unreadable else ""))
    clips = (x * 255).round().to(torch.uint8).numpy()
    test = np.arange(len(clips)) % 5 == 0
    info = {"format": "videos", "path": str(cfg.path), "videos": len(vids), "clips": len(clips),
            "skipped_unreadable": unreadable, "skipped_short": short, "window": window, "stride": stride}
    return VideoClips(clips[~test], None, (clips[test], None, {}), seed, None, info)
