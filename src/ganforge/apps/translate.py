"""Applying an image-to-image run to new images: ``ganforge translate`` (pix2pix, CycleGAN)
and ``ganforge upscale`` (super-resolution).

The generators are fully convolutional, so any input size works: an input is padded (by
reflection) to the multiple of the network's down-sampling, and one larger than ``tile``
pixels a side is cut into overlapping tiles whose centres are pasted together (instance
normalisation sees each tile's statistics, so very large inputs may show faint seams).
Outputs are PNGs named as their inputs, carrying the synthetic-image text chunks, and
``manifest.json`` lists each file with its SHA-256, its source and the run's provenance.

``upscale --alpha`` is ESRGAN's network interpolation (Wang et al. 2018): the weights
theta = (1 - alpha) theta_L1 + alpha theta_GAN, where theta_L1 is the network at the end of the
run's L1 pre-training (kept in its checkpoint as ``G_l1``) and theta_GAN the trained one. alpha
trades distortion (PSNR, alpha = 0) for perceptual sharpness (alpha = 1, the default: the GAN).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..build import model_spec
from ..data.images import IMAGE_SUFFIXES
from ..data.paired import read_image
from ..errors import GanforgeError
from ..files import check_output, write_output
from ..train.checkpoint import load_checkpoint

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


def check_alpha(alpha: float) -> float:
    """One-line error unless 0 <= alpha <= 1."""
    if not 0.0 <= alpha <= 1.0:  # NaN fails too
        raise GanforgeError(f"--alpha {alpha}: the interpolation weight must be in [0, 1] (0 = the L1 network, "
                            "1 = the GAN)")
    return float(alpha)


def blend(l1: dict, gan: dict, alpha: float) -> dict:
    """theta = (1 - alpha) theta_L1 + alpha theta_GAN for every floating-point entry of two state
    dicts of one architecture (others, e.g. counters, are the GAN's); alpha 0 and 1 give the
    endpoints' tensors exactly."""
    if alpha == 0.0:
        return {k: l1[k] if v.is_floating_point() else v for k, v in gan.items()}
    if alpha == 1.0:
        return dict(gan)
    return {k: torch.lerp(l1[k].to(v), v, alpha) if v.is_floating_point() else v for k, v in gan.items()}


def interpolated(run, alpha: float) -> nn.Module:
    """The run's G with its weights blended with the L1 network's by ``alpha`` (1: G itself, which
    needs no L1 network). One-line errors for alpha outside [0, 1] and for a run that kept no
    L1 network (trained before ganforge kept one, or stopped during its L1 pre-training)."""
    check_alpha(alpha)
    if alpha == 1.0:
        return run.G
    l1 = load_checkpoint(run.run_dir, run.step).get("G_l1")
    if l1 is None:
        cfg = run.cfg
        why = ("its GAN phase never started: i2i.sr_adv_weight=0 trains the L1 network only"
               if cfg.i2i.sr_adv_weight == 0 else
               f"it stopped at step {run.step}, during its L1 pre-training (i2i.pretrain_steps="
               f"{cfg.i2i.pretrain_steps}), or was trained before ganforge kept it")
        raise GanforgeError(f"--alpha {alpha}: this run kept no L1 network to blend with ({why}); "
                            "leave --alpha out")
    state = l1["G_ema" if run.ema else "G"]
    G = copy.deepcopy(run.G)
    G.load_state_dict(blend(state, run.G.state_dict(), alpha))
    return G.eval()


def translator(run, direction: str = "a2b", scale: Optional[int] = None, upscale: bool = False,
               alpha: float = 1.0) -> Translator:
    """The generator of a loaded run (:func:`ganforge.trained.load_run`) for ``translate``
    (``upscale=False``) or ``upscale``; one-line errors for a run of the other kind, a
    direction a paired run has not got, or a scale it was not trained for; ``alpha``: upscale's
    network interpolation (:func:`interpolated`)."""
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
        G = interpolated(run, alpha)
    elif alpha != 1.0:
        raise GanforgeError("--alpha: only a super-resolution run blends networks (ganforge upscale)")
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
                   tile: int = TILE, alpha: Optional[float] = None) -> list[Path]:
    """Apply ``tr`` to each input and write ``out/NAME.png`` (with the provenance ``prov`` as PNG
    text) and ``out/manifest.json``; returns the image paths. ``alpha`` (super-resolution's
    network interpolation) goes into the provenance."""
    outputs = ((f"{name}.png", tr(x, tile)[0]) for name, x in inputs)  # one input in memory at a time
    extra = {} if alpha is None else {"alpha": alpha}
    return write_output(out, outputs, {**prov, "game": tr.game, "scale": tr.scale, **extra}, folder=True)[:-1]


def translate_files(run, src: str, out: str, direction: str = "a2b", scale: Optional[int] = None,
                    upscale: bool = False, tile: int = TILE, watermark: bool = True,
                    alpha: float = 1.0) -> tuple[Translator, list[Path]]:
    """``ganforge translate`` / ``upscale``: ``run`` (a loaded image-to-image run) applied to the
    image ``src`` or every image in that folder, written to the folder ``out`` with provenance
    (an upscale's records its ``alpha``)."""
    check_alpha(alpha)
    check_output(Path(out) / "x.png", "--out")
    tr = translator(run, direction, scale, upscale, alpha)
    inputs = read_inputs(src, tr.channels, max(tr.multiple, 4) if upscale else tr.multiple)
    prov = run.provenance("upscale" if upscale else "translate", watermark=watermark)
    return tr, apply_to_files(tr, inputs, Path(out), prov, tile, alpha if upscale else None)
