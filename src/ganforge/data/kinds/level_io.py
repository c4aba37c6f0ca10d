"""Tile maps on disk: the tile legend, VGLC text levels, windows, and rendering.

**VGLC text** (the Video Game Level Corpus, Summerville et al. 2016): a level is a text file,
one character per tile, one line per row, every row the same length. What each character
means is the **legend**, a JSON object ``char -> {"name": str, "solid": bool, "hazard": bool,
"goal": bool, "start": bool, "enemy": bool, "key": bool, "door": bool, "color": "#rrggbb"}``
(every flag optional, default false; ``passable`` is ``not solid``). A legend needs a start and
a goal tile, and an ``empty`` tile (the first passable, non-hazard, non-start, non-goal one)
that pads a ragged last window.

In memory a level is an array of tile ids (H, W) int64, ids being the legend's order; in
model space it is one-hot (C, H, W), C = the legend's size, decoded by argmax (the tiles every
training map holds exactly once placed once each: ``data/levels.py``, ``decode_tiles``).

**Windows** (as MarioGAN cuts Super Mario Bros, Volz et al. 2018): a level W columns wide is
cut into windows of ``width`` columns every ``stride`` columns (:func:`cut_windows`); a level
narrower than a window is padded on the right with the empty tile. **Stitching**
(:func:`stitch`) lays windows side by side, left to right: column ``i * width + j`` of the long
level is column ``j`` of window ``i``. Cutting with ``stride == width`` and stitching gives the
level back exactly (tested).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import GanforgeError

FLAGS = ("solid", "hazard", "goal", "start", "enemy", "key", "door")
AGENTS = ("platformer", "topdown")  # data/level_agents.py
TILE_PX = 8  # each tile is drawn as a TILE_PX x TILE_PX square


@dataclass(frozen=True)
class Tile:
    char: str
    name: str
    color: tuple  # (r, g, b) 0..255
    solid: bool = False
    hazard: bool = False
    goal: bool = False
    start: bool = False
    enemy: bool = False
    key: bool = False
    door: bool = False

    @property
    def passable(self) -> bool:
        return not self.solid


@dataclass(frozen=True)
class Legend:
    """The tiles in id order; ``name`` says which legend (``platformer``, ``dungeon``, a file)."""

    tiles: tuple
    name: str = "custom"
    agent: str = "platformer"  # who plays it: platformer (gravity, jumps) or topdown (walks, keys open doors)

    @property
    def chars(self) -> str:
        return "".join(t.char for t in self.tiles)

    def __len__(self) -> int:
        return len(self.tiles)

    def ids(self, flag: str) -> np.ndarray:
        """The ids of the tiles with ``flag`` set (a name of :data:`FLAGS` or ``passable``)."""
        return np.array([i for i, t in enumerate(self.tiles) if getattr(t, flag)], dtype=np.int64)

    def mask(self, flag: str) -> np.ndarray:
        """(C,) bool: which tile ids have ``flag`` (a name of :data:`FLAGS` or ``passable``)."""
        return np.array([bool(getattr(t, flag)) for t in self.tiles])

    @property
    def empty(self) -> int:
        return next(i for i, t in enumerate(self.tiles)
                    if t.passable and not (t.hazard or t.goal or t.start or t.enemy or t.key or t.door))

    def to_json(self) -> dict:
        out = {"agent": self.agent}
        for t in self.tiles:
            e = {"name": t.name, "color": "#%02x%02x%02x" % t.color}
            e.update({f: True for f in FLAGS if getattr(t, f)})
            out[t.char] = e
        return out

    def colors(self) -> np.ndarray:
        return np.array([t.color for t in self.tiles], dtype=np.uint8)  # (C, 3)


def _hex(c: str, where: str) -> tuple:
    try:
        c = c.lstrip("#")
        if len(c) != 6:
            raise ValueError
        return tuple(int(c[i:i + 2], 16) for i in (0, 2, 4))
    except (ValueError, AttributeError):
        raise GanforgeError(f"{where}: color {c!r} is not #rrggbb") from None


_AUTO = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
         (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40)]


def legend_from_json(obj, where: str = "legend", name: str = "custom") -> Legend:
    """A :class:`Legend` from the JSON object described above; anything wrong is one line
    (a key that is not one character, a flag that is not true/false, no start or no goal)."""
    if not isinstance(obj, dict) or not obj:
        raise GanforgeError(f"{where}: a legend is a JSON object char -> {{\"name\": ..., \"solid\": ...}}")
    obj = dict(obj)
    agent = obj.pop("agent", "platformer")
    if agent not in AGENTS:
        raise GanforgeError(f"{where}: agent {agent!r}: choose {' or '.join(AGENTS)}")
    tiles = []
    for k, (char, e) in enumerate(obj.items()):
        if len(char) != 1 or char.isspace():
            raise GanforgeError(f"{where}: key {char!r} is not one visible character")
        if isinstance(e, str):
            e = {"name": e}
        if not isinstance(e, dict):
            raise GanforgeError(f"{where}: tile {char!r} is not an object")
        bad = sorted(set(e) - set(FLAGS) - {"name", "color", "passable"})
        if bad:
            raise GanforgeError(f"{where}: tile {char!r}: unknown field {bad[0]!r} (fields: name, color, "
                                f"{', '.join(FLAGS)})")
        for f in FLAGS + ("passable",):
            if f in e and not isinstance(e[f], bool):
                raise GanforgeError(f"{where}: tile {char!r}: {f} must be true or false")
        solid = e.get("solid", not e.get("passable", True))
        color = _hex(e["color"], f"{where}: tile {char!r}") if "color" in e else _AUTO[k % len(_AUTO)]
        tiles.append(Tile(char, str(e.get("name", char)), color, solid=solid,
                          **{f: e.get(f, False) for f in FLAGS if f != "solid"}))
    legend = Legend(tuple(tiles), name, agent)
    for role in ("start", "goal"):
        if not legend.mask(role).any():
            raise GanforgeError(f"{where}: the legend has no {role} tile (mark one with \"{role}\": true)")
    try:
        legend.empty
    except StopIteration:
        raise GanforgeError(f"{where}: the legend has no plain passable tile (empty space)") from None
    return legend


def load_legend(path) -> Legend:
    path = Path(path).expanduser()
    if not path.is_file():
        raise GanforgeError(f"data.legend={path}: no such file")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise GanforgeError(f"data.legend={path}: not JSON ({e})") from None
    return legend_from_json(obj, f"data.legend={path}", path.stem)


def parse_level(text: str, legend: Legend, where: str) -> np.ndarray:
    """VGLC text -> tile ids (H, W) int64; ragged rows, an unknown character (the first is
    named, with its row and column) or an empty file are one line."""
    rows = [r for r in text.replace("\r\n", "\n").split("\n")]
    while rows and rows[-1] == "":
        rows.pop()
    if not rows:
        raise GanforgeError(f"{where}: an empty level")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        i = next(i for i, r in enumerate(rows) if len(r) != len(rows[0]))
        raise GanforgeError(f"{where}: ragged rows: row 1 has {len(rows[0])} tiles, row {i + 1} has {len(rows[i])}")
    lut = {c: i for i, c in enumerate(legend.chars)}
    out = np.empty((len(rows), len(rows[0])), dtype=np.int64)
    for y, r in enumerate(rows):
        for x, c in enumerate(r):
            if c not in lut:
                raise GanforgeError(f"{where}: character {c!r} (row {y + 1}, column {x + 1}) is not in the legend "
                                    f"({legend.chars})")
            out[y, x] = lut[c]
    return out


def level_text(ids: np.ndarray, legend: Legend) -> str:
    """Tile ids (H, W) -> VGLC text (one line per row, a final newline)."""
    chars = np.array(list(legend.chars))
    return "\n".join("".join(row) for row in chars[ids]) + "\n"


def read_folder(path, legend: Legend) -> tuple[list, list]:
    """Every ``*.txt`` level in the folder ``path`` (sorted by name): (levels (H, W_i), names)."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise GanforgeError(f"data.path={path}: no such folder (a folder of VGLC .txt levels)")
    files = sorted(path.glob("*.txt"))
    if not files:
        raise GanforgeError(f"data.path={path}: no .txt levels in the folder")
    levels = [parse_level(f.read_text(encoding="utf-8"), legend, str(f)) for f in files]
    heights = {lv.shape[0] for lv in levels}
    if len(heights) != 1:
        raise GanforgeError(f"data.path={path}: levels of different heights {sorted(heights)}; windows need one height")
    return levels, [f.name for f in files]


def cut_windows(level: np.ndarray, width: int, stride: int, empty: int) -> np.ndarray:
    """Windows (n, H, width) of a level (H, W), every ``stride`` columns; one padded with the
    empty tile on the right when the level is narrower than ``width``."""
    h, w = level.shape
    if w < width:
        level = np.concatenate([level, np.full((h, width - w), empty, dtype=level.dtype)], axis=1)
        w = width
    starts = list(range(0, w - width + 1, stride))
    return np.stack([level[:, s:s + width] for s in starts])


def stitch(windows: np.ndarray) -> np.ndarray:
    """Windows (n, H, w) side by side -> one level (H, n * w)."""
    return np.concatenate(list(windows), axis=1)


def render(ids: np.ndarray, legend: Legend, path: Optional[list] = None, px: int = TILE_PX) -> np.ndarray:
    """A level (H, W) as an RGB image (H * px, W * px, 3) uint8: one coloured square per tile
    (solid tiles with a darker border, enemies/keys/goals as a smaller square on the empty
    colour so they read as objects), and the agent's ``path`` [(x, y), ...] as white dots."""
    cols = legend.colors()
    bg = cols[legend.empty]
    h, w = ids.shape
    img = np.repeat(np.repeat(cols[ids], px, 0), px, 1).copy()  # (H px, W px, 3)
    small = legend.mask("passable")  # objects (coins, enemies, keys, start, goal) on the empty colour
    small[legend.empty] = False
    for y, x in zip(*np.nonzero(small[ids])):
        block = img[y * px:(y + 1) * px, x * px:(x + 1) * px]
        block[:] = bg
        m = px // 4
        block[m:px - m, m:px - m] = cols[ids[y, x]]
    solid = legend.mask("solid")[ids]
    for y, x in zip(*np.nonzero(solid)):
        block = img[y * px:(y + 1) * px, x * px:(x + 1) * px]
        dark = (cols[ids[y, x]].astype(np.int32) * 6 // 10).astype(np.uint8)
        block[0, :] = dark
        block[-1, :] = dark
        block[:, 0] = dark
        block[:, -1] = dark
    for x, y in path or []:
        c = px // 2
        img[y * px + c - 1:y * px + c + 1, x * px + c - 1:x * px + c + 1] = 255
    return img
