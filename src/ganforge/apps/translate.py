"""Applying an image-to-image run to new images: ``ganforge translate`` (pix2pix, CycleGAN)
and ``ganforge upscale`` (super-resolution).

The generators are fully convolutional, so any input size works: an input is padded (by
reflection) to the multiple of the network's down-sampling, and one larger than ``tile``
pixels a side is cut into overlapping tiles whose centres are pasted together (instance
normalisation sees each tile's statistics, so very large inputs may show faint seams).
Outputs are PNGs named as their inputs, carrying the synthetic-image text chunks, and
``manifest.json`` lists each file with its SHA-256, its source and the run's provenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..build import model_spec
from ..data.images import IMAGE_SUFFIXES
from ..data.paired import read_image
from ..errors import GanforgeError
from ..files import check_output, write_output

TILE = 256  # inputs larger than this (a side, in input pixels) are processed in tiles
OVERLAP = 16  # input pixels each tile shares with its neighbours (its output there is discarded)


@dataclass
class Translator:
    """One generator of a run, ready to apply: ``G`` maps (B, C, H, W) model space to
    (B, C, scale H, scale W); inputs are padded to a multiple of ``multiple``."""

    G: nn.Module
    game: str  # paired, cycle or superres
    channels: int
    scale: int = 1
    multiple: int = 1
    step: int = 0

    @torch.no_grad()
    def __call__(self, x: Tensor, tile: int = TILE) -> Tensor:
        """x (1, C, H, W) in [0, 1] -> (1, C, scale H, scale W) in [0, 1]."""
        h, w = x.shape[-2:]
        if max(h, w) <= tile:
            return self._whole(x)
        s, out = self.scale, torch.zeros(1, self.channels, h * self.scale, w * self.scale)
        for y0 in range(0, h, tile):
            for x0 in range(0, w, tile):
                y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
                ya, xa = max(0, y0 - OVERLAP), max(0, x0 - OVERLAP)  # the tile with its margin
                part = self._whole(x[..., ya: min(h, y1 + OVERLAP), xa: min(w, x1 + OVERLAP)])
                out[..., y0 * s: y1 * s, x0 * s: x1 * s] = part[..., (y0 - ya) * s: (y1 - ya) * s,
                                                                (x0 - xa) * s: (x1 - xa) * s]
        return out

    def _whole(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        z = x * 2 - 1  # [0, 1] -> model space [-1, 1]
        if ph or pw:  # reflection needs the pad below the size; replicate beyond it
            mode = "reflect" if ph < h and pw < w else "replicate"
            z = F.pad(z, (0, pw, 0, ph), mode=mode)
        y = self.G(z)[..., : h * self.scale, : w * self.scale]
        return (y.clamp(-1, 1) + 1) / 2


def translator(run, direction: str = "a2b", scale: Optional[int] = None, upscale: bool = False) -> Translator:
    """The generator of a loaded run (:func:`ganforge.trained.load_run`) for ``translate``
    (``upscale=False``) or ``upscale``; one-line errors for a run of the other kind, a
    direction a paired run has not got, or a scale it was not trained for."""
    cfg = run.cfg
    from ..train.games import GAMES

    game = model_spec(cfg).game
    if GAMES.get(game).from_noise:
        raise GanforgeError(f"{'upscale' if upscale else 'translate'}: this run (model.name={cfg.model.name}) maps "
                            "noise to samples; use ganforge sample")
    if upscale != (game == "superres"):
        raise GanforgeError(f"this run (model.name={cfg.model.name}) is a {game} model; use "
                            f"ganforge {'upscale' if game == 'superres' else 'translate'}")
    G = run.G
    if game == "cycle":
        if direction not in ("a2b", "b2a"):
            raise GanforgeError(f"--direction {direction}: use a2b or b2a")
        G = G["ab" if direction == "a2b" else "ba"]
    elif direction != "a2b":
        raise GanforgeError(f"--direction {direction}: a paired run translates a2b only")
    if game == "superres":
        if scale is not None and scale != cfg.model.scale:
            raise GanforgeError(f"--scale {scale}: this run was trained for x{cfg.model.scale} (model.scale); "
                                f"train another run with model.scale={scale}")
        scale = cfg.model.scale
    multiple = getattr(G, "multiple", 1)
    return Translator(G.eval(), game, run.data.shape[0] // (1 if game == "superres" else 2),
                      scale or 1, multiple, run.step)


def read_inputs(src: str, channels: int, min_side: int) -> list[tuple[str, Tensor]]:
    """(name, image (1, C, H, W) in [0, 1]) for a PNG/JPEG file or every one in a folder."""
    p = Path(src).expanduser()
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        if not files:
            raise GanforgeError(f"--input {src}: no PNG or JPEG file in this folder")
    elif p.is_file():
        files = [p]
    else:
        raise GanforgeError(f"--input {src}: no such file or folder")
    out = []
    for f in files:
        arr = read_image(f, channels)
        if min(arr.shape[:2]) < min_side:
            raise GanforgeError(f"--input {f}: {arr.shape[1]}x{arr.shape[0]} px is too small for this model; "
                                f"it needs at least {min_side} px a side")
        out.append((f.stem, torch.from_numpy(np.array(arr)).permute(2, 0, 1)[None].float() / 255))
    return out


def apply_to_files(tr: Translator, inputs: list[tuple[str, Tensor]], out: Path, prov: dict,
                   tile: int = TILE) -> list[Path]:
    """Apply ``tr`` to each input and write ``out/NAME.png`` (with the provenance ``prov`` as PNG
    text) and ``out/manifest.json``; returns the image paths."""
    outputs = ((f"{name}.png", tr(x, tile)[0]) for name, x in inputs)  # one input in memory at a time
    return write_output(out, outputs, {**prov, "game": tr.game, "scale": tr.scale}, folder=True)[:-1]


def translate_files(run, src: str, out: str, direction: str = "a2b", scale: Optional[int] = None,
                    upscale: bool = False, tile: int = TILE, watermark: bool = True) -> tuple[Translator, list[Path]]:
    """``ganforge translate`` / ``upscale``: ``run`` (a loaded image-to-image run) applied to the
    image ``src`` or every image in that folder, written to the folder ``out`` with provenance."""
    check_output(Path(out) / "x.png", "--out")
    tr = translator(run, direction, scale, upscale)
    inputs = read_inputs(src, tr.channels, max(tr.multiple, 4) if upscale else tr.multiple)
    prov = run.provenance("upscale" if upscale else "translate", watermark=watermark)
    return tr, apply_to_files(tr, inputs, Path(out), prov, tile)
