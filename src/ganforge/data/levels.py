"""Game levels: ``data.name=platformer``, ``dungeon`` (generated here) and ``levels`` (the user's
VGLC text levels).

One sample is a tile map one-hot (C, H, W) (``data/kinds/level.py``); model space is ``2 x - 1``
and :meth:`LevelData.decode` is the structured decoder :func:`decode_tiles`: the tiles every
training map holds exactly once (learnt from the counts: the dungeon's start, exit and key) are
placed at the one cell where G scores them highest, every other cell takes the argmax over the
other tile types; so a decoded map is always a map of legend tiles.

- ``platformer``: windows 14 x 28 of side-scrolling levels (``data/level_gen.py``): ``data.path``
  a set built with ``ganforge dataset build levels:platformer --out SET.gfd``, or, with no
  ``data.path``, the recipe's default set made on the fly from seed :data:`DATA_SEED`
  (byte-identical to ``dataset build levels:platformer --seed 0``);
- ``dungeon``: whole top-down dungeons 16 x 16, likewise (``levels:dungeon``);
- ``levels``: ``data.path`` a folder of VGLC ``.txt`` levels with its legend in
  ``DIR/legend.json`` (``level_io.py``), cut into windows of ``data.window`` columns (default 28
  for a platformer legend, the whole level for a top-down one) every ``data.stride`` columns
  (default: the window).

A tenth of the levels (whole levels, never windows of one level on both sides; a tenth of the
windows when there are fewer than 10 levels) is held out: the evaluator's real reference.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..config import DataConfig
from ..errors import GanforgeError
from .base import DataSource, Finite, Normalized, register_dataset
from .kinds.level import LEVEL, one_hot
from .kinds.level_io import cut_windows, legend_from_json, load_legend, read_folder
from .sampling import EpochSampler

DATA_SEED = 0  # the on-the-fly sets are the same for every run and seed
HOLDOUT = 0.1
SPLIT_SEED = 12345


def split_levels(level_of: np.ndarray) -> np.ndarray:
    """(N,) bool: the held-out windows, a tenth of the levels (of the windows under 10 levels)."""
    ids = np.unique(level_of)
    rng = np.random.default_rng(SPLIT_SEED)
    if len(ids) >= 10:
        held = rng.permutation(ids)[: max(1, int(round(HOLDOUT * len(ids))))]
        return np.isin(level_of, held)
    out = np.zeros(len(level_of), bool)
    if len(level_of) >= 2:
        out[rng.permutation(len(level_of))[: max(1, int(round(HOLDOUT * len(level_of))))]] = True
    return out


def once_tiles(maps: np.ndarray, c: int) -> tuple:
    """The tile ids that every one of ``maps`` (N, H, W) holds exactly once (the dungeon's start,
    exit and key; none for platformer windows, most of which have neither start nor flag),
    learnt from the training maps' counts, never from the legend's names."""
    if len(maps) == 0:
        return ()
    flat = np.asarray(maps, dtype=np.int64).reshape(len(maps), -1)
    counts = np.stack([np.bincount(m, minlength=c) for m in flat])  # (N, C)
    return tuple(int(t) for t in np.nonzero((counts == 1).all(0))[0])


def decode_tiles(x: Tensor, once: tuple = ()) -> np.ndarray:
    """The **structured decoder**: scores per tile type (N, C, H, W) -> tile ids (N, H, W) int64.

    Each tile of ``once`` (tiles the training maps always hold exactly once, :func:`once_tiles`)
    is placed at the single cell where G's score for that tile is highest (the cells already
    given to an earlier ``once`` tile excluded, in id order); every other cell gets the argmax
    over the remaining tile types. So a decoded map holds each ``once`` tile exactly once, as
    every training map does. With ``once`` empty it is the plain argmax over tile types. It is
    the data's decoder, applied to every sample (``sample``, ``search``, ``evaluate``, the
    benchmark alike), not a repair after the fact: the agent is never consulted."""
    s = x.detach().float().cpu()
    if not once:
        return s.argmax(1).numpy().astype(np.int64)
    n, _, h, w = s.shape
    rest = s.clone()
    rest[:, list(once)] = -torch.inf
    ids = rest.argmax(1).reshape(n, h * w)  # (N, H*W): the argmax over the tiles not in once
    taken = torch.zeros(n, h * w, dtype=torch.bool)
    rows = torch.arange(n)
    for t in once:
        pos = s[:, t].reshape(n, h * w).masked_fill(taken, -torch.inf).argmax(1)  # (N,)
        ids[rows, pos] = t
        taken[rows, pos] = True
    return ids.reshape(n, h, w).numpy().astype(np.int64)


class LevelData(Normalized, DataSource, Finite):
    """Tile-map windows held in memory as ids, served one-hot in reshuffled epochs.

    ``train_ids`` (N, H, W) and ``holdout_ids`` (M, H, W) int64 tile ids; ``legend`` the tiles
    (``level_io.Legend``); ``shape`` = (C, H, W); ``info`` where they came from; ``once`` the
    tiles every training map holds exactly once (:func:`once_tiles`), which :meth:`decode` places
    once each.
    """

    kind = LEVEL
    evaluator = "levels"
    condition_spec = None

    def __init__(self, windows: np.ndarray, held: np.ndarray, legend, seed: int, info: dict):
        windows = np.asarray(windows, dtype=np.int64)
        if len(windows) - int(held.sum()) < 1:
            raise GanforgeError(f"{info.get('source', 'levels')}: no level left to train on")
        self.legend = legend
        self.train_ids = windows[~held]
        self.holdout_ids = windows[held] if held.any() else windows[:1]
        self.shape = (len(legend), windows.shape[1], windows.shape[2])
        self.loc = torch.full((self.shape[0], 1, 1), 0.5)
        self.scale = torch.full((self.shape[0], 1, 1), 0.5)
        self.info = dict(info)
        self.seed = seed
        self.order = EpochSampler(len(self.train_ids), seed)
        self.served: Optional[Tensor] = None
        self.once = once_tiles(self.train_ids, self.shape[0])

    def train_x(self) -> Tensor:
        """The training windows one-hot (N, C, H, W)."""
        return one_hot(self.train_ids, self.shape[0])

    def decode(self, x: Tensor) -> Tensor:
        """Model space (scores per tile type) -> one-hot (N, C, H, W) by :func:`decode_tiles`
        with this data's :attr:`once` tiles (the structured decoder; plain argmax where the
        data has no such tile)."""
        return one_hot(decode_tiles(x, self.once), self.shape[0]).to(x.dtype)

    def sample(self, n: int) -> tuple[Tensor, None]:
        """The next batch, (n, C, H, W) in model space ({-1, 1})."""
        idx = self.order.next(n)
        if self.served is not None:
            return self.served[idx.to(self.served.device)], None
        return self.encode(one_hot(self.train_ids[idx.numpy()], self.shape[0])), None

    def reference(self, n: int, seed: int) -> Tensor:
        """min(n, M) distinct held-out windows one-hot, (m, C, H, W)."""
        idx = torch.randperm(len(self.holdout_ids), generator=torch.Generator().manual_seed(seed))[:n]
        return one_hot(self.holdout_ids[idx.numpy()], self.shape[0])

    def keep_first(self, n: int) -> None:
        self.train_ids = self.train_ids[:n]
        self.order = EpochSampler(len(self.train_ids), self.seed)
        self.served = None

    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * 4 * len(self.train_ids)

    def hold_on(self, device: torch.device) -> None:
        self.served = self.encode(self.train_x()).to(device)

    def state_dict(self) -> dict:
        return self.order.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.order.load_state_dict(state)


def _generated(recipe: str, cfg: DataConfig, seed: int) -> LevelData:
    from .generated import RECIPES, open_set, resolve_options

    if cfg.path:
        s = open_set(cfg.path, expect=recipe)
        arrays = {k: np.asarray(s.array(k)) for k in ("windows", "level_of")}
        record, where = s.record, str(cfg.path)
    else:  # the recipe's default set, made from DATA_SEED (as `dataset build` makes it)
        r = RECIPES[recipe]
        arrays, record = r.function()(resolve_options(r, {}), DATA_SEED, False)
        where = f"{recipe} (generated on the fly, seed {DATA_SEED})"
    legend = legend_from_json(record["legend"], f"{where}: legend", recipe.split(":")[1])
    held = split_levels(arrays["level_of"])
    return LevelData(arrays["windows"], held, legend, seed,
                     {"source": where, "window": record["window"], "stride": record["stride"],
                      "n_levels": record["n_levels"]})


@register_dataset(LEVEL)
def platformer(cfg: DataConfig, seed: int) -> LevelData:
    """Side-scrolling platformer windows, 14 x 28 (``dataset build levels:platformer``)."""
    return _generated("levels:platformer", cfg, seed)


@register_dataset(LEVEL)
def dungeon(cfg: DataConfig, seed: int) -> LevelData:
    """Top-down dungeons, 16 x 16 (``dataset build levels:dungeon``)."""
    return _generated("levels:dungeon", cfg, seed)


@register_dataset(LEVEL)
def levels(cfg: DataConfig, seed: int) -> LevelData:
    """The user's VGLC levels: ``data.path`` a folder of .txt files and its ``legend.json``."""
    from pathlib import Path

    if not cfg.path:
        raise GanforgeError("data.path: data.name=levels needs data.path=DIR (VGLC .txt levels and DIR/legend.json)")
    folder = Path(cfg.path).expanduser()
    if folder.is_dir() and not (folder / "legend.json").is_file():
        raise GanforgeError(f"data.path={folder}: no legend.json in the folder (char -> tile name and flags; "
                            "see docs/data/levels.md)")
    legend = load_legend(folder / "legend.json") if folder.is_dir() else None
    lvls, names = read_folder(folder, legend)
    widest = max(lv.shape[1] for lv in lvls)
    window = cfg.window or (28 if legend.agent == "platformer" else widest)
    stride = cfg.stride or window
    cuts = [cut_windows(lv, window, stride, legend.empty) for lv in lvls]
    windows = np.concatenate(cuts)
    level_of = np.concatenate([np.full(len(c), i) for i, c in enumerate(cuts)])
    return LevelData(windows, split_levels(level_of), legend, seed,
                     {"source": str(folder), "window": window, "stride": stride, "n_levels": len(lvls),
                      "files": names})
