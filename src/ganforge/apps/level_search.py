"""Latent search of a level run: levels with the properties a designer asks for (MarioGAN's
CMA-ES over z, Volz et al. 2018; MAP-Elites over two features, "illuminating" the space as
Fontaine et al. 2021 do for Mario), and long levels stitched from windows.

**Objective** (:func:`parse_objective`): constraints joined by ``and``: ``playable``, or
``FEATURE OP NUMBER`` with OP one of ``>= <= > < ==`` and FEATURE a level feature
(``metrics/levels.py``: enemies, gaps, jumps, coins, keys, doors, hazards, path, linearity, ...).
A level's **violation** is the sum over constraints of how far it misses each, 0 when it meets
them all: ``playable`` costs 1 plus the share of the level the agent did not reach plus 0.1 per start or
goal tile too many (or missing, top-down);
``f >= k`` costs ``max(0, k - f) / max(|k|, 1)`` (and alike for the others).

**CMA-ES** (the ``cma`` package, BSD-3-Clause, Hansen et al.): minimises the violation over z in
[-3, 3]^d (a normal prior; [-1, 1]^d for a uniform one, as MarioGAN bounds z), starting at 0
with sigma 1 (0.5 in [-1, 1]), until ``budget`` levels were evaluated or ``n`` distinct levels meet
the objective; a run that stops early (converged, or a flat objective) restarts from a new seed.

**MAP-Elites** (Mouret and Clune 2015): a grid over two integer features (``features``, e.g.
enemies x gaps, one cell per value from 0 to ``bins - 1``, larger values in the last cell);
each cell keeps the level of lowest violation; after a random start, new z's are elites' z's
plus Gaussian noise (sigma 0.3).

Outputs (a folder, with provenance in its manifest): the best levels as VGLC ``.txt`` and
rendered ``.png`` (the agent's path drawn), ``archive.json`` (every kept level's z, features and
violation; for CMA-ES the best violation per generation), ``archive.npy`` (their z's).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from PIL import Image

from ..data.kinds.level_io import level_text, render
from ..data.level_agents import play
from ..data.levels import decode_tiles
from ..errors import GanforgeError
from ..files import check_output, write_output
from ..metrics.levels import level_features

OPS = {">=": lambda f, k: max(0.0, k - f), "<=": lambda f, k: max(0.0, f - k),
       ">": lambda f, k: 0.0 if f > k else k - f + 1, "<": lambda f, k: 0.0 if f < k else f - k + 1,
       "==": lambda f, k: abs(f - k)}
FEATURES = ("enemies", "gaps", "gap_columns", "jumps", "coins", "keys", "doors", "hazards", "path", "linearity",
            "leniency", "openness", "reached")


def parse_objective(text: str) -> list:
    """``"playable and enemies>=5"`` -> [("playable", None, None), ("enemies", ">=", 5.0)]."""
    out = []
    for part in re.split(r"\band\b", text.strip()):
        part = part.strip()
        if part == "playable":
            out.append(("playable", None, None))
            continue
        m = re.fullmatch(r"([a-z_]+)\s*(>=|<=|==|>|<)\s*(-?[0-9.]+)", part)
        if not m:
            raise GanforgeError(f"--objective: {part!r}: write playable or FEATURE>=NUMBER (>=, <=, >, <, ==), "
                                "joined by and")
        if m.group(1) not in FEATURES:
            raise GanforgeError(f"--objective: unknown feature {m.group(1)!r}; choose from {', '.join(FEATURES)}")
        out.append((m.group(1), m.group(2), float(m.group(3))))
    return out


def violation(feats: dict, objective: list) -> float:
    v = 0.0
    for name, op, k in objective:
        if name == "playable":
            v += 0.0 if feats["playable"] else 1.0 + (1.0 - feats["reached"]) + 0.1 * feats["marker_excess"]
        else:
            v += OPS[op](feats.get(name, 0.0), k) / max(abs(k), 1.0)
    return v


@dataclass
class Searcher:
    """A run's G, decoding z's (B, z_dim) to tile ids (B, H, W) by the data's decoder
    (``data/levels.py``: :func:`decode_tiles` with the data's ``once`` tiles), and scoring them."""

    G: torch.nn.Module
    legend: object
    objective: list
    z_dim: int
    bound: float
    evals: int = 0
    once: tuple = ()  # the tiles the decoder places exactly once (LevelData.once)

    @torch.no_grad()
    def levels(self, z: np.ndarray) -> np.ndarray:
        x = self.G(torch.as_tensor(np.asarray(z), dtype=torch.float32), None)  # (B, C, H, W) model space
        return decode_tiles(x, self.once)

    def score(self, z: np.ndarray) -> tuple[np.ndarray, list, list]:
        ids = self.levels(z)
        self.evals += len(ids)
        feats = []
        for lv in ids:
            feats.append(level_features(lv, self.legend, play(lv, self.legend)))
        return ids, feats, [violation(f, self.objective) for f in feats]


@dataclass
class SearchResult:
    best: list = field(default_factory=list)  # [(violation, ids, z, feats)], best first
    archive: dict = field(default_factory=dict)
    evals: int = 0
    found: int = 0  # distinct levels meeting the objective
    files: list = field(default_factory=list)


def _keep(best: dict, ids, z, feats, v) -> None:
    key = ids.tobytes()
    if key not in best or v < best[key][0]:
        best[key] = (v, ids, np.asarray(z, dtype=np.float32), feats)


def cma_search(s: Searcher, budget: int, n: int, seed: int, popsize: int = 0,
               progress: Optional[Callable] = None) -> SearchResult:
    try:
        import cma
    except ImportError:
        raise GanforgeError("search --method cma needs the cma package: pip install 'ganforge[levels]' "
                            "(or use --method map-elites)") from None

    opts = {"seed": seed + 1, "maxfevals": budget, "verbose": -9, "bounds": [-s.bound, s.bound]}
    if popsize:
        opts["popsize"] = popsize
    best: dict = {}
    history = []
    restarts, found, es = 0, 0, None
    while s.evals < budget and found < n:
        if es is None or es.stop():  # (re)start: a flat or converged run starts again from a new seed
            if es is not None:
                restarts += 1
            opts["seed"] = seed + 1 + 1000 * restarts
            es = cma.CMAEvolutionStrategy(np.zeros(s.z_dim), 1.0 if s.bound > 1 else 0.5, opts)
        zs = es.ask()
        zs = zs[: budget - s.evals]
        ids, feats, vs = s.score(np.stack(zs))
        for i in range(len(zs)):
            _keep(best, ids[i], zs[i], feats[i], vs[i])
        if len(zs) == es.popsize:
            es.tell(zs, vs)
        history.append({"evals": s.evals, "best_violation": float(min(vs)), "mean_violation": float(np.mean(vs))})
        found = sum(1 for b in best.values() if b[0] == 0)
        if progress:
            progress(s.evals, min(b[0] for b in best.values()), found)
    ranked = sorted(best.values(), key=lambda b: b[0])
    return SearchResult(ranked, {"method": "cma-es", "restarts": restarts, "generations": history}, s.evals,
                        sum(1 for b in ranked if b[0] == 0))


def map_elites(s: Searcher, budget: int, n: int, seed: int, features: tuple, bins: int,
               progress: Optional[Callable] = None) -> SearchResult:
    rng = np.random.default_rng(seed)
    grid: dict = {}
    batch = 32
    init = max(batch, budget // 10)

    def cell(f):
        return tuple(int(min(max(round(f[k]), 0), bins - 1)) for k in features)

    while s.evals < budget:
        b = min(batch, budget - s.evals)
        if s.evals < init or not grid:
            z = rng.uniform(-s.bound, s.bound, (b, s.z_dim)) if s.bound <= 1 else rng.standard_normal((b, s.z_dim))
        else:
            keys = list(grid)
            parents = np.stack([grid[keys[i]][2] for i in rng.integers(len(keys), size=b)])
            z = np.clip(parents + 0.3 * rng.standard_normal(parents.shape), -s.bound, s.bound)
        ids, feats, vs = s.score(z)
        for i in range(b):
            c = cell(feats[i])
            if c not in grid or vs[i] < grid[c][0]:
                grid[c] = (vs[i], ids[i], z[i].astype(np.float32), feats[i])
        if progress:
            progress(s.evals, min(g[0] for g in grid.values()), sum(1 for g in grid.values() if g[0] == 0))
    ranked = sorted(grid.values(), key=lambda g: g[0])
    cells = [{"cell": list(c), "violation": float(g[0])} for c, g in sorted(grid.items())]
    return SearchResult(ranked, {"method": "map-elites", "features": list(features), "bins": bins, "cells": cells,
                                 "filled": len(grid), "met": sum(1 for g in grid.values() if g[0] == 0)},
                        s.evals, sum(1 for g in ranked if g[0] == 0))


def searcher(trained, objective: str) -> Searcher:
    """A :class:`Searcher` of a loaded level run (``api.load(RUN).generator``)."""
    if trained.data.kind.name != "level":
        raise GanforgeError(f"search: a run of level data (data.name=platformer, dungeon or levels); this run's data "
                            f"is {trained.data.kind.name}")
    if trained.n_classes:
        raise GanforgeError("search: searches the z of an unconditional level run")
    bound = 1.0 if trained.cfg.model.prior == "uniform" else 3.0
    return Searcher(trained.G, trained.data.legend, parse_objective(objective), trained.cfg.model.z_dim, bound,
                    once=trained.data.once)


def search(trained, objective: str, budget: int, out, method: str = "cma", n: int = 8, seed: int = 0,
           features: tuple = ("enemies", "gaps"), bins: int = 8, progress: Optional[Callable] = None) -> SearchResult:
    """``ganforge search``: search ``trained``'s z for levels meeting ``objective`` with at most
    ``budget`` levels evaluated; write the best ``n`` and the archive into the folder ``out``."""
    if budget < 2:
        raise GanforgeError(f"--budget {budget}: must be >= 2")
    if n < 1:
        raise GanforgeError(f"--n {n}: must be >= 1")
    if method not in ("cma", "map-elites"):
        raise GanforgeError(f"--method {method}: choose cma or map-elites")
    for f in features:
        if f not in FEATURES:
            raise GanforgeError(f"--features: unknown feature {f!r}; choose from {', '.join(FEATURES)}")
    out = Path(out)
    if out.is_dir() and any(out.iterdir()):
        raise GanforgeError(f"--out {out}: the folder is not empty; give a new one")
    check_output(out / "x", "--out")
    s = searcher(trained, objective)
    torch.manual_seed(seed)
    if method == "cma":
        r = cma_search(s, budget, n, seed, progress=progress)
    else:
        r = map_elites(s, budget, n, seed, tuple(features), bins, progress)
    keep = r.best if method == "map-elites" else r.best[:n]
    items = []
    for i, (v, ids, z, feats) in enumerate(keep):
        items.append((f"level_{i:03d}.txt", level_text(ids, s.legend)))
        p = play(ids, s.legend)
        items.append((f"level_{i:03d}.png", Image.fromarray(render(ids, s.legend, p.path if p.playable else None))))
    kept = [{"file": f"level_{i:03d}.txt", "violation": float(v), "meets": v == 0,
             "features": {k: float(x) for k, x in feats.items()}} for i, (v, _, _, feats) in enumerate(keep)]
    archive = {**r.archive, "objective": objective, "budget": budget, "evaluated": r.evals, "met": r.found,
               "levels": kept}
    items.append(("archive.json", archive))
    items.append(("archive.npy", np.stack([b[2] for b in keep]) if keep else np.zeros((0, s.z_dim), np.float32)))
    prov = trained.provenance("search", seed, watermark=False, objective=objective, method=method, budget=budget,
                              evaluated=r.evals, met=r.found)
    r.files = write_output(out, items, prov, folder=True)
    return r


def stitch_long(trained, length: int, seed: int, tries: int = 32) -> tuple[np.ndarray, int]:
    """A level ``length`` columns long from windows of the run, left to right: each next window is
    the first of ``tries`` fresh z's whose window, joined to the level so far, the agent crosses
    from the previous window's first column to its own last (the first: the window alone).
    Returns the tile ids (H, length) and how many seams found no playable join (0: playable)."""
    if length < 1:
        raise GanforgeError(f"--length {length}: must be >= 1")
    s = searcher(trained, "playable")
    w = trained.data.shape[2]
    gen = torch.Generator().manual_seed(seed)
    parts, bad = [], 0
    for i in range(math.ceil(length / w)):
        z = trained.prior.sample(tries, gen).numpy()
        cands = s.levels(z)
        pick = cands[0]
        for c in cands:
            piece = c if not parts else np.concatenate([parts[-1], c], axis=1)
            if play(piece, s.legend).playable:
                pick = c
                break
        else:
            bad += 1
        parts.append(pick)
    return np.concatenate(parts, axis=1)[:, :length], bad


def write_long(trained, length: int, out, seed: int = 0) -> tuple[int, Path]:
    """``sample --length``: :func:`stitch_long`'s level written to ``out`` (.txt VGLC with a
    provenance sidecar, or .png rendered with the agent's path). Returns (seams without a
    playable join, the path)."""
    out = Path(out)
    if out.suffix not in (".txt", ".png"):
        raise GanforgeError(f"--out {out}: --length writes FILE.txt (VGLC) or FILE.png (rendered)")
    check_output(out, "--out")
    ids, bad = stitch_long(trained, length, seed)
    legend = trained.data.legend
    prov = trained.provenance("sample", seed, watermark=False, length=length, seams_unjoined=bad)
    if out.suffix == ".txt":
        write_output(out, level_text(ids, legend), prov)
    else:
        p = play(ids, legend)
        write_output(out, Image.fromarray(render(ids, legend, p.path if p.playable else None)), prov)
    return bad, out
