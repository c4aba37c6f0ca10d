"""The video kind: a sample is a clip (C, T, H, W), C = 1 (grey) or 3, T frames of H x W, in
[0, 1] in data space (model space: [-1, 1], for a tanh G); a batch is (B, C, T, H, W), the
layout of ``torch.nn.Conv3d``.

It owns writing clips as an animated ``.gif`` (the clips tiled in a grid that plays together;
the provenance in the GIF's comment extension, plus the sidecar), ``.npy`` float32
(N, C, T, H, W) (exact) or ``.mp4`` (H.264 through PyAV, lossy, the provenance in its metadata),
or a folder of one GIF per clip; reading a user's GIF/MP4/WebM files, frame folders or .npy of
the run's (C, T, H, W) (``video_io.py``); the figure (a frame strip per clip, one row each);
and a 3-D convolutional encoder trunk. Datasets: ``data/video.py`` (``moving_digits``,
``moving_digits2`` and the user's ``videos``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor, nn

from ...errors import GanforgeError
from .base import DataKind, Inputs, register_kind
from .video_io import gif_bytes, mp4_bytes

STRIPS = 8  # clips in the figure, one strip each


class VideoKind(DataKind):
    name = "video"
    default_model = "mocogan"
    default_dataset = "videos"
    demo_data = {"name": "moving_digits"}
    evaluator = "video"
    suffixes = (".gif", ".npy")  # and .mp4 (lossy, so not in the exact round trip): see check_suffix
    task = "video-generation"
    conditional_task = "class-conditional-video-generation"
    figure_n = STRIPS

    def describe(self, shape: tuple) -> str:
        c, t, h, w = shape
        return f"clips of {t} frames of {h}x{w} px, {c} channel{'s' if c > 1 else ''}, in [0, 1]"

    def pipeline_tag(self, conditional: bool) -> Optional[str]:
        return None  # the model hub has no tag for unconditional video generation

    # ------------------------------------------------------------------ files

    def check_suffix(self, out: str, is_dir: bool, offered: tuple = ()) -> None:
        """FILE.gif, FILE.mp4, FILE.npy or DIR/ (one GIF per clip)."""
        if is_dir:
            return
        suffix = Path(out).suffix
        if suffix not in (*self.suffixes, ".mp4"):
            raise GanforgeError(f"--out {out}: video runs write FILE.gif, FILE.mp4, FILE.npy or DIR/ (a GIF per "
                                f"clip), not {suffix or 'a file without suffix'}")

    def content(self, x: Tensor, suffix: str, data=None, labels: Optional[Tensor] = None):
        """.npy: float32 (N, C, T, H, W) in [0, 1]; .gif / .mp4: the clips tiled, as bytes
        (without provenance: :meth:`write` puts it in)."""
        if suffix == ".npy":
            return x.float().numpy()
        if suffix == ".gif":
            return gif_bytes(x)
        if suffix == ".mp4":
            return mp4_bytes(x)
        raise GanforgeError(f"video runs write .gif, .mp4 or .npy, not {suffix}")

    def write(self, x: Tensor, path: Path, data=None, labels: Optional[Tensor] = None,
              prov: Optional[dict] = None) -> list[Path]:
        """Clips to ``path`` with ``prov`` inside the GIF / MP4 too (and the sidecar)."""
        from ...files import write_output

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".gif":
            body = gif_bytes(x, prov)
        elif suffix == ".mp4":
            body = mp4_bytes(x, prov)
        else:
            body = self.content(x, suffix, data, labels)
        return write_output(path, body, prov or {})

    def folder_items(self, x: Tensor, data=None, prov: Optional[dict] = None):
        """``DIR/``: one GIF per clip, each with the provenance in its comment."""
        return ((f"{i:06d}.gif", gif_bytes(x[i:i + 1], prov or {})) for i in range(len(x)))

    def read_inputs(self, data, path: Path, resize: bool = False) -> Inputs:
        """Clips of the run's (C, T, H, W): an .npy (N, C, T, H, W), or GIF/MP4 files, a folder of
        them or of frame folders, cut into clips of T frames (stride T). A size other than the
        run's, or a video shorter than T frames, is one line (frames are not resized: ``resize``
        changes nothing)."""
        from .video_io import cut_clips, read_video

        path = Path(path)
        c, t, h, w = tuple(data.shape)
        if path.suffix.lower() == ".npy":
            if not path.is_file():
                raise GanforgeError(f"--data {path}: no such file")
            try:
                arr = np.load(path, allow_pickle=False)
            except Exception as e:  # noqa: BLE001
                raise GanforgeError(f"--data {path}: not a readable .npy ({type(e).__name__})") from None
            x = self.from_array(arr, f"--data {path}")
            if tuple(x.shape[1:]) != (c, t, h, w):
                raise GanforgeError(f"--data {path}: clips of shape {tuple(x.shape[1:])}; this run's are "
                                    f"({c}, {t}, {h}, {w}) (channels, frames, height, width)")
            return Inputs(x, [f"{path.name}[{i}]" for i in range(len(x))])
        videos, _ = read_video(path)
        for name, v in videos:
            if v.shape[1:3] != (h, w):
                raise GanforgeError(f"{path}: {name} is {v.shape[2]}x{v.shape[1]} px; this run's clips are {w}x{h}")
        x, names, short = cut_clips(videos, t, t, c, h)
        if len(x) == 0:
            longest = max(len(v) for _, v in videos)
            raise GanforgeError(f"{path}: {longest} frames at most; this run's clips are {t} frames (data.window)")
        return Inputs(x, names)

    def from_array(self, arr: np.ndarray, where: str) -> Tensor:
        """(N, C, T, H, W) or grey (N, T, H, W), uint8 or floats in [0, 1] -> float32 (N, C, T, H, W)."""
        if arr.ndim == 4:
            arr = arr[:, None]
        if arr.ndim != 5 or arr.dtype.kind not in "fiu" or arr.shape[1] not in (1, 3) or len(arr) == 0:
            raise GanforgeError(f"{where}: clips are (N, C, T, H, W) numbers with C = 1 or 3; found shape "
                                f"{tuple(arr.shape)}")
        if arr.dtype.kind in "ui":
            return torch.from_numpy(arr.astype(np.float32) / 255)
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise GanforgeError(f"{where}: float clips must lie in [0, 1]")
        return torch.from_numpy(arr.astype(np.float32))

    def data_settings(self, x: Tensor) -> dict:
        return {"window": int(x.shape[2]), "resolution": int(x.shape[-1])}

    # ------------------------------------------------------------------ figures and models

    def figure(self, fake: Tensor, data=None, seed: int = 0, title: str = "", rows: Optional[list[str]] = None):
        """A frame strip per clip (one row each, T frames left to right), at most :data:`STRIPS`;
        with ``rows``, the first clip of each condition, its name on the left."""
        from ...files import grid_image, label_rows

        if rows:
            per = max(1, len(fake) // len(rows))
            fake, names = fake[::per][: len(rows)], list(rows)
        else:
            fake, names = fake[:STRIPS], None
        n, c, t, h, w = fake.shape
        frames = fake.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w)  # (N*T, C, H, W), clip after clip
        img = grid_image(frames, nrow=t, scale=max(1, 48 // h))
        return label_rows(img, names) if names else img

    def encoder_trunk(self, shape: tuple, width: int) -> tuple[nn.Module, int]:
        """Strided 3-D convolutions halving (B, C, T, R, R) in space (and time while T > 1) down
        to 4x4: (B, F)."""
        c, t, r = shape[0], shape[1], shape[2]
        layers, ch = [], c
        while r > 4:
            st = 2 if t > 1 else 1
            layers += [nn.Conv3d(ch, width, (4 if st == 2 else 3, 4, 4), (st, 2, 2), 1), nn.LeakyReLU(0.2)]
            ch, width, r, t = width, min(width * 2, 256), r // 2, max(1, t // st)
        return nn.Sequential(*layers, nn.Flatten()), ch * t * r * r

    def normal_data(self, data, seed: int, n: int = 2000) -> tuple[Tensor, Optional[Tensor]]:
        return data.reference(min(n, 2000), seed + 7919).float(), None


VIDEO = register_kind(VideoKind())
