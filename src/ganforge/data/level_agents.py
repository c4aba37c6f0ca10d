"""The agents that say whether a level is playable, written here (no game engine).

**Platformer** (:func:`play_platformer`): A* over states (x, y, v, a) on the tile grid, x the
column, y the row (0 at the top), v the upward ticks a jump has left and a the horizontal moves
left in the air. One tick moves at most one column and one row. The jump model:

- on the ground (a solid tile below, the tile itself free) the agent walks one column, or starts
  a jump: up to :data:`JUMP_H` = 4 ticks straight or diagonally up, so it reaches a ledge whose
  top is 4 tiles above its feet (a 4-high pipe; not a 5-high one);
- in the air it moves at most :data:`AIR_MOVES` = 5 columns in all until it lands, so it clears a
  gap of at most 4 columns at the same height (5 is just too wide);
- after the jump's ticks (or a head bump on a solid tile) it falls one row a tick; it may not
  enter a solid or a hazard tile (enemies, lava: they kill) or fall out of the bottom.

A level is playable if the agent reaches the goal tile from the start tile (a map with two
starts or two goals is not a level: not playable); a window without a goal
or a start (a piece of a level) is playable if the agent gets from a standing place in its first
column to its last column (MarioGAN's agent ran each window left to right). The cost is one per
tick, plus 1/1000 per jump, so that of equally fast paths the one with fewest jumps is taken.

**Top-down dungeon** (:func:`play_dungeon`): exactly one start and one exit; breadth-first search
over (x, y, holds a key) with
4-neighbour moves through non-solid, non-hazard tiles; a door tile can be entered only holding
a key (any key opens any door, and is kept: the state stays small and the search exact).
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field

import numpy as np

JUMP_H = 4  # ticks of a jump's rise: ledges up to 4 tiles above the feet
AIR_MOVES = 5  # columns moved in the air until landing: gaps up to 4 columns wide
JUMP_COST = 1e-3


@dataclass
class Play:
    playable: bool
    path: list = field(default_factory=list)  # [(x, y), ...] from start to goal (or to the furthest column)
    jumps: int = 0  # jumps started on the path
    reached: float = 0.0  # the furthest column reached / (W - 1), or 1 when playable


def play_platformer(ids: np.ndarray, legend) -> Play:
    """A* of the platformer agent (module docstring) on tile ids (H, W)."""
    h, w = ids.shape
    solid = legend.mask("solid")[ids]
    hazard = (legend.mask("hazard") | legend.mask("enemy"))[ids]
    free = ~solid & ~hazard
    goal_cells = set(zip(*np.nonzero(legend.mask("goal")[ids] & free)[::-1]))
    starts = list(zip(*np.nonzero(legend.mask("start")[ids] & free)[::-1]))
    if len(goal_cells) > 1 or len(starts) > 1:  # a level has one start and one goal
        return Play(False, [], 0, 0.0)
    window = not goal_cells or not starts

    def grounded(x, y):
        return y + 1 < h and solid[y + 1, x]

    if window:  # a piece of a level: from its first column to its last
        starts = [(0, y) for y in range(h) if free[y, 0] and grounded(0, y)] or \
                 [(0, y) for y in range(h) if free[y, 0]][:1]
        goal_cells = None

    def is_goal(x, y):
        return x == w - 1 if goal_cells is None else (x, y) in goal_cells

    gx = [g[0] for g in goal_cells] if goal_cells else [w - 1]

    def heur(x):
        return min(abs(g - x) for g in gx)

    open_: list = []
    came: dict = {}
    best: dict = {}
    for x, y in starts:
        s = (x, y, 0, AIR_MOVES)
        best[s] = 0.0
        came[s] = (None, False)
        heapq.heappush(open_, (heur(x), 0.0, s))
    far = 0
    while open_:
        _, g, s = heapq.heappop(open_)
        if g > best.get(s, np.inf):
            continue
        x, y, v, a = s
        far = max(far, x)
        if is_goal(x, y):
            path, jumps, cur = [], 0, s
            while cur is not None:
                path.append((cur[0], cur[1]))
                prev, jumped = came[cur]
                jumps += jumped
                cur = prev
            return Play(True, path[::-1], jumps, 1.0)
        moves = []  # (next state, jumped)
        if v == 0 and grounded(x, y):
            for dx in (-1, 1):
                if 0 <= x + dx < w and free[y, x + dx]:
                    moves.append(((x + dx, y, 0, AIR_MOVES), False))
            for dx in (-1, 0, 1):
                if 0 <= x + dx < w and y - 1 >= 0 and free[y - 1, x + dx]:
                    moves.append(((x + dx, y - 1, JUMP_H - 1, AIR_MOVES - abs(dx)), True))
        elif v > 0:
            up = [((x + dx, y - 1, v - 1, a - abs(dx)), False) for dx in (-1, 0, 1)
                  if abs(dx) <= a and 0 <= x + dx < w and y - 1 >= 0 and free[y - 1, x + dx]]
            moves += up or [((x, y, 0, a), False)]  # a head bump ends the rise
        else:
            for dx in (-1, 0, 1):
                if abs(dx) <= a and 0 <= x + dx < w and y + 1 < h and free[y + 1, x + dx]:
                    moves.append(((x + dx, y + 1, 0, a - abs(dx)), False))
        for (nx, ny, nv, na), jumped in moves:
            if nv == 0 and grounded(nx, ny):
                na = AIR_MOVES  # landed: a fresh jump
            n = (nx, ny, nv, na)
            ng = g + 1 + JUMP_COST * jumped
            if ng < best.get(n, np.inf):
                best[n] = ng
                came[n] = (s, jumped)
                heapq.heappush(open_, (ng + heur(nx), ng, n))
    return Play(False, [], 0, far / max(w - 1, 1))


def play_dungeon(ids: np.ndarray, legend) -> Play:
    """BFS of the dungeon agent (module docstring) on tile ids (H, W)."""
    h, w = ids.shape
    walk = ~legend.mask("solid")[ids] & ~legend.mask("hazard")[ids]
    door, key = legend.mask("door")[ids], legend.mask("key")[ids]
    goal = legend.mask("goal")[ids]
    starts = list(zip(*np.nonzero(legend.mask("start")[ids])[::-1]))
    if len(starts) != 1 or goal.sum() != 1:  # one start and one exit
        return Play(False, [], 0, 0.0)
    q = deque()
    came = {}
    for x, y in starts[:1]:
        s = (x, y, bool(key[y, x]))
        came[s] = None
        q.append(s)
    far = 0
    while q:
        s = q.popleft()
        x, y, k = s
        far = max(far, x)
        if goal[y, x]:
            path, cur = [], s
            while cur is not None:
                path.append((cur[0], cur[1]))
                cur = came[cur]
            return Play(True, path[::-1], 0, 1.0)
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nx, ny = x + dx, y + dy
            if not (0 <= nx < w and 0 <= ny < h) or not walk[ny, nx] or (door[ny, nx] and not k):
                continue
            n = (nx, ny, k or bool(key[ny, nx]))
            if n not in came:
                came[n] = s
                q.append(n)
    return Play(False, [], 0, far / max(w - 1, 1))


AGENTS = {"platformer": play_platformer, "topdown": play_dungeon}


def play(ids: np.ndarray, legend) -> Play:
    """The legend's agent (``legend.agent``: platformer or topdown) on a level (H, W)."""
    return AGENTS[legend.agent](ids, legend)
