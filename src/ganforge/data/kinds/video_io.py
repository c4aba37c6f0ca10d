"""Video files: GIF and MP4 encoding with provenance, and reading a user's clips.

- :func:`gif_bytes`: clips (N, C, T, H, W) in [0, 1] as one animated GIF, the N clips tiled in
  a grid that plays their T frames together; the provenance (and the tiling, so ganforge reads
  its own GIF back clip by clip) is JSON in the GIF's comment extension. Pillow merges equal
  consecutive frames into one of longer duration; :func:`read_gif` expands them again.
- :func:`mp4_bytes`: the same grid as H.264 in an MP4 (PyAV), the JSON in the container's
  ``comment`` metadata. Lossy: ``.npy`` is the exact format.
- :func:`read_video`: one file (GIF, MP4, WebM, or ganforge's .npy) or a folder of them and of
  frame folders (PNG/JPEG frames in name order) -> a list of videos (T, C, H, W) in [0, 1].
- :func:`cut_clips`: videos resized to the run's size and cut into clips of T frames every
  ``stride`` frames; shorter videos are skipped and counted (never padded).
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ...errors import GanforgeError

FRAME_MS = 100  # GIF frame duration (10 frames a second)
FPS = 10
LAYOUT = "ganforge_layout"  # the comment's key of the tiling
VIDEO_SUFFIXES = (".gif", ".mp4", ".webm", ".mov", ".avi", ".mkv")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def tile(x: Tensor, cols: Optional[int] = None, gap: int = 1) -> tuple[np.ndarray, dict]:
    """Clips (N, C, T, H, W) in [0, 1] -> frames (T, gh, gw, C) uint8 of a grid of ``cols`` clips
    a row (white gaps of ``gap`` px; none for a single clip), and the layout that undoes it."""
    n, c, t, h, w = x.shape
    cols = cols or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / cols))
    gap = gap if n > 1 else 0
    a = (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 4, 1).cpu().numpy()
    grid = np.full((t, rows * (h + gap) + gap, cols * (w + gap) + gap, c), 255, dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        y0, x0 = gap + r * (h + gap), gap + q * (w + gap)
        grid[:, y0:y0 + h, x0:x0 + w] = a[i]
    return grid, {"n": n, "cols": cols, "h": h, "w": w, "t": t, "gap": gap}


def untile(frames: np.ndarray, layout: dict) -> list[np.ndarray]:
    """Frames (T, gh, gw, C) of a :func:`tile` grid -> the N clips, each (T, h, w, C)."""
    n, cols, h, w, gap = (int(layout[k]) for k in ("n", "cols", "h", "w", "gap"))
    out = []
    for i in range(n):
        r, q = divmod(i, cols)
        y0, x0 = gap + r * (h + gap), gap + q * (w + gap)
        out.append(frames[:, y0:y0 + h, x0:x0 + w])
    return out


def _comment(prov: dict, layout: dict) -> str:
    return json.dumps({**{k: v for k, v in prov.items() if not str(k).startswith("_")}, LAYOUT: layout})


def gif_bytes(x: Tensor, prov: Optional[dict] = None, cols: Optional[int] = None) -> bytes:
    """Clips (N, C, T, H, W) in [0, 1] as an animated GIF (grey for C = 1, else RGB through a
    palette), looping, :data:`FRAME_MS` a frame, ``prov`` + the tiling as its JSON comment."""
    from PIL import Image

    frames, layout = tile(x, cols)
    layout["frame_ms"] = FRAME_MS
    mode = "L" if frames.shape[-1] == 1 else "RGB"
    imgs = [Image.fromarray(f[..., 0] if mode == "L" else f[..., :3], mode) for f in frames]
    buf = io.BytesIO()
    imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], duration=FRAME_MS, loop=0,
                 comment=_comment(prov or {}, layout).encode("utf-8"))
    return buf.getvalue()


def mp4_bytes(x: Tensor, prov: Optional[dict] = None, cols: Optional[int] = None) -> bytes:
    """Clips (N, C, T, H, W) in [0, 1] as an H.264 MP4 (PyAV), the grid padded to even sides,
    ``prov`` + the tiling as the container's ``comment`` metadata."""
    try:
        import av
    except ImportError:
        raise GanforgeError("MP4 needs PyAV: pip install 'ganforge[video]' (or write .gif / .npy)") from None
    frames, layout = tile(x, cols)
    t, gh, gw, c = frames.shape
    rgb = np.repeat(frames, 3, axis=-1) if c == 1 else frames[..., :3]
    rgb = np.pad(rgb, ((0, 0), (0, gh % 2), (0, gw % 2), (0, 0)), constant_values=255)
    fd, tmp = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        with av.open(tmp, "w") as box:
            box.metadata["comment"] = _comment(prov or {}, layout)
            stream = box.add_stream("libx264", rate=FPS)
            stream.width, stream.height, stream.pix_fmt = rgb.shape[2], rgb.shape[1], "yuv420p"
            stream.options = {"crf": "12"}
            for f in rgb:
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                    box.mux(packet)
            for packet in stream.encode():
                box.mux(packet)
        return Path(tmp).read_bytes()
    finally:
        os.unlink(tmp)


def read_comment(path: Path) -> dict:
    """The JSON that ganforge wrote in a GIF's comment or an MP4's metadata ({} if none)."""
    try:
        if path.suffix.lower() == ".gif":
            from PIL import Image

            with Image.open(path) as im:
                text = im.info.get("comment", b"")
        else:
            import av

            with av.open(str(path)) as box:
                text = box.metadata.get("comment", "")
        return json.loads(text.decode("utf-8") if isinstance(text, bytes) else text) if text else {}
    except Exception:  # noqa: BLE001 - a foreign file's comment is free text, or the file is unreadable
        return {}


def read_gif(path: Path) -> np.ndarray:
    """An animated GIF's frames (T, H, W, 3) uint8 (RGB); frames that Pillow merged (a longer
    duration than ganforge's :data:`FRAME_MS` in its own GIFs) are repeated back."""
    from PIL import Image, ImageSequence

    meta = read_comment(path).get(LAYOUT, {})
    base = meta.get("frame_ms")
    out = []
    with Image.open(path) as im:
        for f in ImageSequence.Iterator(im):
            a = np.asarray(f.convert("RGB"), dtype=np.uint8)
            repeat = max(1, int(round(f.info.get("duration", base or 1) / base))) if base else 1
            out.extend([a] * repeat)
    return np.stack(out)


def read_av(path: Path) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 of an MP4/WebM/... file, through PyAV."""
    try:
        import av
    except ImportError:
        raise GanforgeError(f"{path}: reading {path.suffix} needs PyAV: pip install 'ganforge[video]'") from None
    with av.open(str(path)) as box:
        return np.stack([f.to_ndarray(format="rgb24") for f in box.decode(video=0)])


def _frames_of(path: Path) -> list[np.ndarray]:
    """One file's videos, each (T, H, W, 3) uint8: a ganforge file's clips, else the one video."""
    frames = read_gif(path) if path.suffix.lower() == ".gif" else read_av(path)
    layout = read_comment(path).get(LAYOUT)
    if layout:
        frames = frames[: int(layout["t"])]
        return untile(frames, layout)
    return [frames]


def _frame_folder(folder: Path) -> np.ndarray:
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
    frames = []
    for f in files:
        with Image.open(f) as im:
            frames.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
    if len({a.shape for a in frames}) > 1:
        raise ValueError("frames of different sizes")
    return np.stack(frames)


def read_video(path: Path) -> tuple[list[tuple[str, np.ndarray]], int]:
    """Videos at ``path``: a file (GIF, MP4, WebM, ...), a folder of them, or folders of frames
    (PNG/JPEG in name order; a folder holding only frames is one video). Returns
    ([(name, frames (T, H, W, 3) uint8)], the number of unreadable files skipped); nothing
    readable at all is one line."""
    path = Path(path)
    if not path.exists():
        raise GanforgeError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise GanforgeError(f"{path}: not a video (a video run reads {', '.join(VIDEO_SUFFIXES)} files, "
                                "folders of them or of frames, or an .npy)")
        try:
            clips = _frames_of(path)
        except GanforgeError:
            raise
        except Exception as e:  # noqa: BLE001 - PIL and PyAV raise many kinds for a broken file
            raise GanforgeError(f"{path}: not a readable video ({type(e).__name__})") from None
        return [(path.name if len(clips) == 1 else f"{path.name}[{i}]", c) for i, c in enumerate(clips)], 0
    entries = sorted(path.iterdir())
    if entries and all(p.is_file() and p.suffix.lower() in FRAME_SUFFIXES for p in entries):
        entries = [path]  # a folder of frames is one video
    videos, skipped = [], 0
    for p in entries:
        try:
            if p.is_dir():
                videos.append((p.name, _frame_folder(p)))
            elif p.suffix.lower() in VIDEO_SUFFIXES:
                clips = _frames_of(p)
                videos += [(p.name if len(clips) == 1 else f"{p.name}[{i}]", c) for i, c in enumerate(clips)]
        except Exception:  # noqa: BLE001 - unreadable: skipped and counted
            skipped += 1
    if not videos:
        raise GanforgeError(f"{path}: no readable videos (GIF/MP4/WebM files or folders of frames)"
                            + (f"; {skipped} unreadable skipped" if skipped else ""))
    return videos, skipped


def to_clip_tensor(frames: np.ndarray, channels: int, size: int) -> Tensor:
    """Frames (T, H, W, 3) uint8 -> (C, T, size, size) float32 in [0, 1]: grey (ITU-R 601 luma)
    for C = 1, resized (area) when the size differs."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().div(255).permute(0, 3, 1, 2)  # (T, 3, H, W)
    if channels == 1:
        x = (x * torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]).sum(1, keepdim=True)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="area")
    return x.permute(1, 0, 2, 3).clamp(0, 1).contiguous()  # (C, T, S, S)


def cut_clips(videos: list[tuple[str, np.ndarray]], frames: int, stride: int, channels: int,
              size: int) -> tuple[Tensor, list[str], int]:
    """Each video resized to ``size`` and cut into clips of ``frames`` every ``stride`` frames:
    (N, C, T, S, S) in [0, 1], the clips' names, and how many videos were shorter than
    ``frames`` (skipped, not padded)."""
    clips, names, short = [], [], 0
    for name, v in videos:
        if len(v) < frames:
            short += 1
            continue
        x = to_clip_tensor(v, channels, size)
        for s in range(0, len(v) - frames + 1, max(1, stride)):
            clips.append(x[:, s:s + frames])
            names.append(f"{name}@{s}")
    if not clips:
        return torch.zeros(0, channels, frames, size, size), names, short
    return torch.stack(clips), names, short
