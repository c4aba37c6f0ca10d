"""Repair of generated top-down levels: the fewest, least-surprising tile changes that make an
unplayable level playable, chosen by G's own scores.

A GAN draws most of a dungeon right and still leaves a room walled off, or the only way past a
locked door without its key (``benchmarks/results/levels.md``). Repairing GAN levels after the
fact is an established step: Zhang, Fontaine, Hoover and Nikolaidis (AIIDE 2020) repair GAN Zelda
levels with a mixed-integer program that changes as few tiles as possible. This is a smaller,
exact repair for the one property ganforge's agent checks, reachability:

- a **cheapest path** (Dijkstra) from the start to the exit over states (x, y, holds a key), as
  the top-down agent walks (``data/level_agents.py``); entering a walkable cell costs nothing, a
  door costs nothing with a key; a wall, a hazard or a door without a key costs
  ``EPS + max(0, s_tile - s_floor)``: G's score for the tile it drew minus its score for floor at
  that cell (model space, so 0 to 2), plus ``EPS`` so that of equally likely paths the one with
  the fewest changes wins;
- the cells on that path the agent could not have entered become floor. Nothing else changes, so
  a level that was playable is returned as it was.

It works on the ``topdown`` agent's legends only (the dungeon and a user's top-down levels): a
platformer window's reachability depends on jumps, which a path over cells does not model; for
those, the latent search (``ganforge search RUN --objective playable``) finds playable levels
instead. A level without exactly one start and one exit cannot be repaired (the structured
decoder gives the dungeon both; a user's legend may not).

Every change is reported (cell, tile before, tile after), and ``sample --repair`` writes how many
levels and tiles it changed into the provenance, so a repaired level is never passed off as G's.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from torch import Tensor

from ..data.level_agents import play
from ..data.kinds.level import one_hot
from ..data.levels import decode_tiles
from ..errors import GanforgeError

EPS = 0.05  # cost of any change, on top of G's score drop: fewest changes among equally likely paths


@dataclass
class Repair:
    ids: np.ndarray  # (H, W) the level after repair (the input when it needed none or could not be repaired)
    changes: list = field(default_factory=list)  # [(x, y, tile id before, tile id after), ...]
    playable: bool = False  # after repair
    reason: str = ""  # why a level could not be repaired ("" when it was, or needed nothing)


def check_repairable(legend, where: str = "--repair") -> None:
    """One line for a legend whose levels this repair cannot handle (a platformer's)."""
    if legend.agent != "topdown":
        raise GanforgeError(f"{where}: repair works on top-down levels (walls, doors, keys); this run's levels are "
                            f"played by the {legend.agent} agent, whose jumps a path over cells does not model: "
                            "use `ganforge search RUN --objective playable` for playable levels")


def repair_level(ids: np.ndarray, scores: np.ndarray, legend) -> Repair:
    """The cheapest repair (module docstring) of one level: tile ids (H, W) and G's scores per tile
    type (C, H, W) in model space. Returns the level unchanged when it is already playable."""
    check_repairable(legend, "repair")
    ids = np.asarray(ids, dtype=np.int64)
    if play(ids, legend).playable:
        return Repair(ids, [], True)
    solid, hazard = legend.mask("solid")[ids], legend.mask("hazard")[ids]
    door, key, goal = legend.mask("door")[ids], legend.mask("key")[ids], legend.mask("goal")[ids]
    starts = np.argwhere(legend.mask("start")[ids])  # (k, 2) rows of (y, x)
    if len(starts) != 1 or int(goal.sum()) != 1:
        return Repair(ids, [], False, f"{len(starts)} start(s) and {int(goal.sum())} exit(s); a level needs one each")
    floor = legend.empty
    s = np.asarray(scores, dtype=np.float64)
    drop = EPS + np.maximum(0.0, np.take_along_axis(s, ids[None], 0)[0] - s[floor])  # (H, W) cost to make floor
    blocked = solid | hazard  # never enterable as drawn
    h, w = ids.shape
    y0, x0 = (int(v) for v in starts[0])
    first = (x0, y0, bool(key[y0, x0]))
    best, came, heap = {first: 0.0}, {first: None}, [(0.0, first)]
    end = None
    while heap:
        c, st = heapq.heappop(heap)
        if c > best[st]:
            continue
        x, y, k = st
        if goal[y, x]:
            end = st
            break
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nx, ny = x + dx, y + dy
            if not (0 <= nx < w and 0 <= ny < h):
                continue
            must_change = bool(blocked[ny, nx] or (door[ny, nx] and not k))
            n = (nx, ny, k or bool(key[ny, nx]))
            nc = c + (drop[ny, nx] if must_change else 0.0)
            if nc < best.get(n, np.inf):
                best[n], came[n] = nc, st
                heapq.heappush(heap, (nc, n))
    if end is None:  # unreachable only on a grid without a start-exit route at all (never on a connected grid)
        return Repair(ids, [], False, "no route from the start to the exit")
    out, changes, cur = ids.copy(), [], end
    while came[cur] is not None:
        prev = came[cur]
        x, y = cur[0], cur[1]
        if out[y, x] != floor and (blocked[y, x] or (door[y, x] and not prev[2])):
            changes.append((x, y, int(ids[y, x]), floor))
            out[y, x] = floor
        cur = prev
    ok = play(out, legend).playable
    return Repair(out, changes[::-1], ok, "" if ok else "the repaired level is still not playable")


def repair_samples(raw: Tensor, legend, once: tuple = ()) -> list:
    """:func:`repair_level` on each of G's samples ``raw`` (N, C, H, W), model space, decoded by
    the structured decoder with ``once`` (the data's :attr:`~ganforge.data.levels.LevelData.once`)."""
    check_repairable(legend)
    ids = decode_tiles(raw, once)
    scores = raw.detach().float().cpu().numpy()
    return [repair_level(lv, sc, legend) for lv, sc in zip(ids, scores)]


def summary(repairs: list) -> dict:
    """Counts for the provenance and the command's line: levels already playable, repaired,
    not repairable, and tiles changed (in all and per repaired level)."""
    fixed = [r for r in repairs if r.changes and r.playable]
    tiles = sum(len(r.changes) for r in fixed)
    return {"levels": len(repairs), "playable_as_drawn": sum(1 for r in repairs if r.playable and not r.changes),
            "repaired": len(fixed), "not_repaired": sum(1 for r in repairs if not r.playable),
            "tiles_changed": tiles, "tiles_per_repaired_level": round(tiles / len(fixed), 2) if fixed else 0.0}


def write_repaired(trained, out, n: int, seed: int = 0) -> tuple[dict, list]:
    """``sample --repair``: ``n`` levels of the run (the same draw as ``sample --seed``), each
    repaired, written as ``sample`` writes levels (.txt, .png, .npy or DIR/) with the repair's
    counts and every change in the provenance. Returns (:func:`summary`, the paths written)."""
    from ..evaluation import generate
    from ..files import write_output
    from .synth import sample_target

    trained._from_noise()
    data = trained.data
    check_repairable(data.legend)
    path, is_dir = sample_target(str(out), n)
    kind = data.kind
    kind.check_suffix(str(out), is_dir)
    raw = generate(trained.G, trained.prior, n, seed)  # (n, C, H, W), model space: the draw `sample` decodes
    repairs = repair_samples(raw, data.legend, data.once)
    counts = summary(repairs)
    changes = {str(i): [list(c) for c in r.changes] for i, r in enumerate(repairs) if r.changes}
    prov = trained.provenance("sample", seed, watermark=False, n=n, repair=counts, repair_changes=changes)
    x = one_hot(np.stack([r.ids for r in repairs]), data.shape[0])  # (n, C, H, W), data space
    if is_dir:
        files = write_output(path, kind.folder_items(x, data, prov), prov, folder=True)
    else:
        files = kind.write(x, path, data, prov=prov)
    return counts, files


def repaired_line(counts: dict, where: Optional[str] = None) -> str:
    """The command's line: what was repaired, in words."""
    head = f"{counts['levels']} levels" + (f" to {where}" if where else "")
    return (f"{head}: {counts['playable_as_drawn']} playable as G drew them, {counts['repaired']} repaired "
            f"({counts['tiles_changed']} tiles changed, {counts['tiles_per_repaired_level']} a repaired level), "
            f"{counts['not_repaired']} not repairable")
