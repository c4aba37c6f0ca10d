"""The level kind: a sample is a tile map (a game level, or a window of one), C tile types on an
H x W grid, held one-hot as (C, H, W) (channel c is 1 where the tile is type c; as MarioGAN
feeds its DCGAN, Volz et al. 2018); a batch is (B, C, H, W). Model space is 2 x - 1 (in [-1, 1]
like G's tanh); data space is the one-hot map. A generated map is decoded by the data's structured
decoder (``data/levels.py``, ``decode_tiles``): the tiles every training map holds exactly once
(a dungeon's start, exit and key) go to the one cell where G scores each highest, every other
cell takes the argmax over the other tile types (plain argmax when there are no such tiles), so
every decoded tile is a tile of the legend.

It owns writing levels: ``.txt`` (VGLC text, one character per tile; several levels in one file
are separated by an empty line; a folder ``DIR/`` gets one ``NNNNNN.txt`` and one rendered
``NNNNNN.png`` per level), ``.png`` (the levels rendered, one coloured square per tile, with the
agent's path drawn as white dots), ``.npy`` (the tile ids (N, H, W) int64); reading a user's
``.txt`` levels of the run's size (score, project); and the figure (generated levels with the
agent's path over the real ones). Its legend, tiles and windows: ``level_io.py``; its datasets
and generators: ``data/levels.py``, ``data/level_gen.py``; its agents: ``data/level_agents.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

from ...errors import GanforgeError
from .base import DataKind, Inputs, register_kind
from .level_io import level_text, parse_level, render

FIGURE_LEVELS = 64  # generated levels drawn for the figure's expressive range
FIGURE_SHOWN = 8  # of them drawn as levels (beside as many real ones)


def to_ids(x: Tensor) -> np.ndarray:
    """One-hot (or scores per tile type) (N, C, H, W) -> tile ids (N, H, W) int64 by argmax."""
    return x.detach().float().cpu().argmax(1).numpy().astype(np.int64)


def one_hot(ids, c: int) -> Tensor:
    """Tile ids (N, H, W) -> one-hot float32 (N, C, H, W)."""
    t = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    return torch.nn.functional.one_hot(t, c).permute(0, 3, 1, 2).float()


def level_sheet(levels: np.ndarray, legend, title: str = "", cols: int = 2, play: bool = True,
                captions: Optional[list] = None) -> Image.Image:
    """Levels (N, H, W) rendered in a grid of ``cols`` columns, each with its agent's path and a
    caption (playable or not), under ``title``: a PIL image."""
    from ..level_agents import play as agent

    tiles = []
    for i, lv in enumerate(levels):
        p = agent(lv, legend) if play else None
        img = Image.fromarray(render(lv, legend, p.path if p is not None and p.playable else None))
        cap = captions[i] if captions else ("" if p is None else ("playable" if p.playable else
                                                                  f"not playable ({100 * p.reached:.0f} %)"))
        tiles.append((img, cap))
    w, h = tiles[0][0].size
    pad, head = 6, (16 if title else 0)
    rows = (len(tiles) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * (w + pad) + pad, head + rows * (h + 14 + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad, 2), title, fill="black")
    for i, (img, cap) in enumerate(tiles):
        x, y = pad + (i % cols) * (w + pad), head + pad + (i // cols) * (h + 14 + pad)
        sheet.paste(img, (x, y + 12))
        draw.text((x, y), cap, fill="black")
    return sheet


class LevelKind(DataKind):
    name = "level"
    default_model = "level_dcgan"
    default_dataset = "levels"
    demo_data = {"name": "dungeon"}  # generated on the fly in about a second
    evaluator = "levels"
    suffixes = (".txt", ".png", ".npy")
    task = "level-generation"
    conditional_task = "conditional-level-generation"
    figure_n = FIGURE_LEVELS

    def describe(self, shape: tuple) -> str:
        return (f"tile maps of {shape[1]} x {shape[2]} tiles, {shape[0]} tile types (one-hot, decoded by argmax, "
                "with tiles every training map holds once placed once)")

    def check_suffix(self, out: str, is_dir: bool, offered: tuple = ()) -> None:
        """A folder (one .txt and one .png per level) or FILE.txt / FILE.png / FILE.npy."""
        offered = offered or self.suffixes
        if is_dir and ".txt" in offered:
            return
        suffix = Path(out).suffix
        if is_dir or suffix not in self.suffixes or suffix not in offered:
            raise GanforgeError(f"--out {out}: level runs write FILE.txt (VGLC text), FILE.png (rendered), FILE.npy "
                                f"(tile ids) or DIR/ (a .txt and a .png per level), not "
                                f"{'a folder here' if is_dir else suffix or 'a bare name'}")

    def content(self, x: Tensor, suffix: str, data=None, labels: Optional[Tensor] = None):
        """.txt: VGLC text (levels separated by an empty line); .png: the levels rendered with
        the agent's path; .npy: tile ids (N, H, W) int64."""
        ids = to_ids(x)
        if suffix == ".npy":
            return ids
        legend = data.legend
        if suffix == ".png":
            return level_sheet(ids, legend, cols=1 if ids.shape[2] > ids.shape[1] else 4)
        return "\n".join(level_text(lv, legend) for lv in ids)

    def folder_items(self, x: Tensor, data=None, prov: Optional[dict] = None):
        """``sample --out DIR/``: NNNNNN.txt (VGLC) and NNNNNN.png (rendered, with its path) per level."""
        from ..level_agents import play

        for i, lv in enumerate(to_ids(x)):
            yield f"{i:06d}.txt", level_text(lv, data.legend)
            p = play(lv, data.legend)
            img = render(lv, data.legend, p.path if p.playable else None)
            yield f"{i:06d}.png", Image.fromarray(img)

    def read_inputs(self, data, path: Path, resize: bool = False) -> Inputs:
        """Levels of the run's size in the run's legend: a VGLC ``.txt`` (several levels separated
        by an empty line, as :meth:`content` writes them), a folder of them, or a ``.npy`` of tile
        ids (N, H, W). Tiles have no resizing: ``resize`` changes nothing and a level of another
        size is refused."""
        path = Path(path)
        want = tuple(data.shape[1:])
        if path.suffix == ".npy" and path.is_file():
            ids = np.load(path, allow_pickle=False)
            c = data.shape[0]
            if ids.dtype.kind not in "iu" or tuple(ids.shape[1:]) != want or len(ids) == 0 or not (
                    0 <= ids.min() and ids.max() < c):
                raise GanforgeError(f"--data {path}: tile ids (N, {want[0]}, {want[1]}) in 0..{c - 1}; found "
                                    f"{ids.dtype} {tuple(ids.shape)}")
            return Inputs(one_hot(ids, data.shape[0]), [str(i) for i in range(len(ids))])
        files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
        if not files or not files[0].is_file() or files[0].suffix != ".txt":
            raise GanforgeError(f"--data {path}: a level run reads a VGLC .txt level, a folder of them or a .npy of "
                                "tile ids")
        ids, names = [], []
        for f in files:
            blocks = [b for b in f.read_text(encoding="utf-8").replace("\r\n", "\n").split("\n\n") if b.strip()]
            for k, block in enumerate(blocks):
                lv = parse_level(block, data.legend, str(f) if len(blocks) == 1 else f"{f} (level {k + 1})")
                if lv.shape != want:
                    raise GanforgeError(f"--data {f}: a level of {lv.shape[0]} x {lv.shape[1]} tiles; this run's are "
                                        f"{want[0]} x {want[1]}")
                ids.append(lv)
                names.append(f.name if len(blocks) == 1 else f"{f.name}:{k + 1}")
        return Inputs(one_hot(np.stack(ids), data.shape[0]), names)

    def data_settings(self, x: Tensor) -> dict:
        return {}

    def figure(self, fake: Tensor, data=None, seed: int = 0, title: str = "", rows: Optional[list[str]] = None):
        """Generated levels with the agent's path (left column) beside as many real ones (right),
        and under them the expressive range (``metrics/levels.py``) of all ``fake`` against as
        many held-out real maps."""
        if data is None:
            return None
        from ...metrics.levels import expressive_range_figure
        from .points import figure_image

        ids = to_ids(fake)
        real = to_ids(data.reference(len(ids), seed))
        show = min(len(ids), len(real), FIGURE_SHOWN)
        both = np.stack([a for pair in zip(ids[:show], real[:show]) for a in pair])
        sheet = level_sheet(both, data.legend, title or "generated (left) and real (right)", cols=2)
        er = figure_image(expressive_range_figure(ids, real, data.legend))
        out = Image.new("RGB", (max(sheet.width, er.width), sheet.height + er.height), "white")
        out.paste(sheet, (0, 0))
        out.paste(er.convert("RGB"), (0, sheet.height))
        return out

    def normal_data(self, data, seed: int, n: int = 12000) -> tuple[Tensor, Optional[Tensor]]:
        """The training windows themselves (one-hot)."""
        return data.train_x(), None


LEVEL = register_kind(LevelKind())
