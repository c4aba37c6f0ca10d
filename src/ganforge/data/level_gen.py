"""Two procedural level generators written for ganforge, and the legends of their tiles.

**Platformer** (:func:`platformer_level`): a side-scroller 14 rows high, ``width`` columns wide
(a multiple of the 28-column window), built left to right from segments: flat ground runs,
steps up or down (ground top between rows 9 and 12), gaps (1 to ``max_gap`` columns), pipes
(2 to 4 tiles high) and floating platforms of bricks and question blocks 4 rows above the
ground, with coins over platforms and enemies walking on flat ground. Mario starts in column 1
(``M``) and the flag (``F``) stands 2 columns from the end. The 2 columns either side of every
window edge stay plain ground, so each 28-column window starts and ends on safe footing.

**Dungeon** (:func:`dungeon_level`): a top-down dungeon 16 x 16: a 3 x 3 grid of 4 x 4 rooms
joined along a random spanning tree (plus a few loops, ``loops``) by openings in the walls.
The start (``S``) is in a random room and the exit (``G``) in the room furthest from it; up to
``locked`` of the doors on the way are locked (``D``), each with a key (``K``) placed in a room
reachable before it. Enemies (``E``, fought, passable) and lava (``L``, deadly) are strewn on floors.

Every level is played by its agent (``data/level_agents.py``) before it is kept (a platformer
level and each of its windows); one that is not playable is drawn again, and the count of
those is recorded. So the generated levels are 100 % playable by construction. The same
options and seed give the same levels.
"""

from __future__ import annotations

import numpy as np

from ..errors import GanforgeError
from .kinds.level_io import cut_windows, legend_from_json
from .level_agents import play

H, WINDOW = 14, 28  # platformer: rows, and the window's columns (MarioGAN's 14 x 28)
DUNGEON = 16  # dungeon side

PLATFORMER_LEGEND = legend_from_json({
    "agent": "platformer",
    "-": {"name": "sky", "color": "#5c94fc"},
    "X": {"name": "ground", "solid": True, "color": "#a0522d"},
    "S": {"name": "brick", "solid": True, "color": "#c84c0c"},
    "?": {"name": "question block", "solid": True, "color": "#fcbc3c"},
    "o": {"name": "coin", "color": "#fff000"},
    "E": {"name": "enemy", "enemy": True, "hazard": True, "color": "#8b0000"},
    "<": {"name": "pipe top left", "solid": True, "color": "#00a800"},
    ">": {"name": "pipe top right", "solid": True, "color": "#00a800"},
    "[": {"name": "pipe left", "solid": True, "color": "#008000"},
    "]": {"name": "pipe right", "solid": True, "color": "#008000"},
    "M": {"name": "start", "start": True, "color": "#ff00ff"},
    "F": {"name": "flag", "goal": True, "color": "#ffffff"},
}, "platformer legend", "platformer")

DUNGEON_LEGEND = legend_from_json({
    "agent": "topdown",
    ".": {"name": "floor", "color": "#d2c8a0"},
    "W": {"name": "wall", "solid": True, "color": "#3c3c46"},
    "D": {"name": "locked door", "door": True, "color": "#8b5a2b"},
    "K": {"name": "key", "key": True, "color": "#ffd700"},
    "E": {"name": "enemy", "enemy": True, "color": "#c80000"},
    "L": {"name": "lava", "hazard": True, "color": "#ff6400"},
    "S": {"name": "start", "start": True, "color": "#00c800"},
    "G": {"name": "exit", "goal": True, "color": "#0064ff"},
}, "dungeon legend", "dungeon")

PLATFORMER_DEFAULTS = {"width": 112, "max_gap": 4, "gap_rate": 0.12, "enemy_rate": 0.08, "pipe_rate": 0.06,
                       "platform_rate": 0.08}
DUNGEON_DEFAULTS = {"locked": 2, "loops": 1, "enemy_rate": 0.04, "lava_rate": 0.02}
MAX_TRIES = 200


def _ids(legend, chars: str) -> dict:
    return {c: legend.chars.index(c) for c in chars}


def _platformer_once(rng: np.random.Generator, p: dict) -> np.ndarray:
    t = _ids(PLATFORMER_LEGEND, "-XS?oE<>[]MF")
    w = p["width"]
    lv = np.full((H, w), t["-"], dtype=np.int64)
    ground = np.full(w, 12)  # the row of the ground's top tile per column; H = a gap
    safe = np.zeros(w, bool)  # columns next to a window edge: plain ground
    for e in range(0, w + 1, WINDOW):
        safe[max(e - 2, 0):min(e + 2, w)] = True
    top, x = 12, 0
    while x < w:
        if safe[x]:
            ground[x] = top
            x += 1
            continue
        r = rng.random()
        if r < p["gap_rate"]:
            g = int(rng.integers(1, p["max_gap"] + 1))
            if x + g < w and not safe[x:x + g + 1].any():
                ground[x:x + g] = H
                x += g
                ground[x] = top  # land on the same height
                x += 1
                continue
        elif r < p["gap_rate"] + 0.1:  # a step up or down
            top = int(np.clip(top + rng.choice([-2, -1, 1, 2]), 9, 12))
        run = int(rng.integers(2, 6))
        for _ in range(run):
            if x < w and not safe[x]:
                ground[x] = top
                x += 1
    for x in range(w):
        if ground[x] < H:
            lv[ground[x]:, x] = t["X"]
    # pipes: 2 columns on level ground, 2..4 tiles high
    x = 3
    while x < w - 3:
        if not safe[x:x + 2].any() and ground[x] == ground[x + 1] < H and rng.random() < p["pipe_rate"]:
            ph, gtop = int(rng.integers(2, 5)), ground[x]
            lv[gtop - ph:gtop, x], lv[gtop - ph:gtop, x + 1] = t["["], t["]"]
            lv[gtop - ph, x], lv[gtop - ph, x + 1] = t["<"], t[">"]
            x += 4
        x += 1
    # floating platforms, 4 rows above the ground under their first column, coins above them
    x = 2
    while x < w - 6:
        if rng.random() < p["platform_rate"] and ground[x] < H:
            n, row = int(rng.integers(3, 7)), ground[x] - 4
            span = slice(x, min(x + n, w - 2))
            if (lv[row - 1:row + 2, span] == t["-"]).all():
                lv[row, span] = np.where(rng.random(span.stop - span.start) < 0.3, t["?"], t["S"])
                if rng.random() < 0.6:
                    lv[row - 2, span] = t["o"]
            x += n + 2
        x += 1
    # enemies on flat ground, away from window edges
    for x in range(2, w - 2):
        g = ground[x]
        if (not safe[x] and g < H and ground[x - 1] == g == ground[x + 1] and lv[g - 1, x] == t["-"]
                and rng.random() < p["enemy_rate"]):
            lv[g - 1, x] = t["E"]
    lv[ground[1] - 1, 1] = t["M"]
    lv[ground[w - 3] - 1, w - 3] = t["F"]
    return lv


def platformer_level(rng: np.random.Generator, p: dict) -> tuple[np.ndarray, int]:
    """One playable platformer level (14, width) whose every window is playable, and the number
    of draws refused before it."""
    for tries in range(MAX_TRIES):
        lv = _platformer_once(rng, p)
        if play(lv, PLATFORMER_LEGEND).playable and all(
                play(win, PLATFORMER_LEGEND).playable for win in cut_windows(lv, WINDOW, WINDOW, 0)):
            return lv, tries
    raise GanforgeError(f"levels:platformer: no playable level in {MAX_TRIES} draws with these options")


def _dungeon_once(rng: np.random.Generator, p: dict) -> np.ndarray:
    t = _ids(DUNGEON_LEGEND, ".WDKELSG")
    n, room = 3, 4
    lv = np.full((DUNGEON, DUNGEON), t["W"], dtype=np.int64)

    def origin(r):  # top-left interior cell of room r (row-major in the 3 x 3 grid)
        return 1 + (r // n) * (room + 1), 1 + (r % n) * (room + 1)

    for r in range(n * n):
        y, x = origin(r)
        lv[y:y + room, x:x + room] = t["."]
    # a random spanning tree of the rooms (randomised DFS), then a few loops
    nbrs = {r: [q for q in (r - n, r + n, r - 1, r + 1) if 0 <= q < n * n and (abs(q - r) == n or q // n == r // n)]
            for r in range(n * n)}
    start_room = int(rng.integers(n * n))
    parent, seen, stack = {start_room: None}, {start_room}, [start_room]
    while stack:
        r = stack[-1]
        fresh = [q for q in nbrs[r] if q not in seen]
        if not fresh:
            stack.pop()
            continue
        q = int(rng.choice(fresh))
        parent[q] = r
        seen.add(q)
        stack.append(q)
    edges = {(min(q, r), max(q, r)) for q, r in parent.items() if r is not None}
    others = [(a, b) for a in range(n * n) for b in nbrs[a] if a < b and (a, b) not in edges]
    for i in rng.permutation(len(others))[:p["loops"]]:
        edges.add(others[i])

    def opening(a, b):  # the wall cell between rooms a < b, at a random offset
        ya, xa = origin(a)
        k = int(rng.integers(room))
        return (ya + room, xa + k) if b - a == n else (ya + k, xa + room)

    cells = {e: opening(*e) for e in sorted(edges)}
    for (y, x) in cells.values():
        lv[y, x] = t["."]
    # the exit in the room furthest (in tree steps) from the start; lock doors on the way
    depth = {start_room: 0}
    order = [start_room]
    for r in order:
        for q, pr in parent.items():
            if pr == r:
                depth[q] = depth[r] + 1
                order.append(q)
    exit_room = max(depth, key=lambda r: (depth[r], r))
    path, r = [], exit_room
    while parent[r] is not None:
        path.append((min(r, parent[r]), max(r, parent[r])))
        r = parent[r]
    path = path[::-1]  # tree edges from the start room to the exit room
    n_locked = min(p["locked"], len(path))
    locked = sorted(rng.choice(len(path), n_locked, replace=False).tolist()) if n_locked else []
    for i in locked:
        y, x = cells[path[i]]
        lv[y, x] = t["D"]
    sy, sx = origin(start_room)
    ey, ex = origin(exit_room)
    floor = [(y, x) for y in range(DUNGEON) for x in range(DUNGEON) if lv[y, x] == t["."]]
    lv[sy + int(rng.integers(room)), sx + int(rng.integers(room))] = t["S"]
    lv[ey + int(rng.integers(room)), ex + int(rng.integers(room))] = t["G"]
    if locked:  # the key: a room on the way before the first locked door (the agent needs only one)
        before = [start_room] + [b if depth[b] > depth[a] else a for a, b in path[:locked[0]]]
        ky, kx = origin(int(rng.choice(before)))
        for _ in range(20):
            y, x = ky + int(rng.integers(room)), kx + int(rng.integers(room))
            if lv[y, x] == t["."]:
                lv[y, x] = t["K"]
                break
    for y, x in floor:
        if lv[y, x] == t["."]:
            r = rng.random()
            if r < p["enemy_rate"]:
                lv[y, x] = t["E"]
            elif r < p["enemy_rate"] + p["lava_rate"]:
                lv[y, x] = t["L"]
    return lv


def dungeon_level(rng: np.random.Generator, p: dict) -> tuple[np.ndarray, int]:
    """One playable dungeon (16, 16) and the number of draws refused before it."""
    for tries in range(MAX_TRIES):
        lv = _dungeon_once(rng, p)
        if play(lv, DUNGEON_LEGEND).playable:
            return lv, tries
    raise GanforgeError(f"levels:dungeon: no playable dungeon in {MAX_TRIES} draws with these options")


def _options(defaults: dict, options: dict) -> dict:
    return {k: (options.get(k) if options.get(k) is not None else v) for k, v in defaults.items()}


def make_platformer(options: dict, seed: int, progress: bool = False) -> tuple[dict, dict]:
    """The ``levels:platformer`` recipe: ``levels`` whole levels cut into 28-column windows."""
    p = _options(PLATFORMER_DEFAULTS, options)
    n = int(options.get("levels") or 200)
    if p["width"] % WINDOW or p["width"] < WINDOW:
        raise GanforgeError(f"levels:platformer: --width {p['width']} must be a multiple of {WINDOW}")
    if not 1 <= p["max_gap"] <= 4:
        raise GanforgeError(f"levels:platformer: --max-gap {p['max_gap']}: the agent clears gaps of 1 to 4")
    rng = np.random.default_rng(seed)
    levels, refused = [], 0
    for i in range(n):
        lv, r = platformer_level(rng, p)
        levels.append(lv)
        refused += r
        if progress and (i + 1) % 50 == 0:
            print(f"  {i + 1}/{n} platformer levels")
    levels = np.stack(levels).astype(np.uint8)  # (n, 14, width)
    windows = np.concatenate([cut_windows(lv, WINDOW, WINDOW, 0) for lv in levels])  # (n * width / 28, 14, 28)
    level_of = np.repeat(np.arange(n), p["width"] // WINDOW).astype(np.int32)
    record = {"legend": PLATFORMER_LEGEND.to_json(), "window": WINDOW, "stride": WINDOW, "refused_draws": refused,
              "params": p, "n_levels": n}
    return {"levels": levels, "windows": windows, "level_of": level_of}, record


def make_dungeon(options: dict, seed: int, progress: bool = False) -> tuple[dict, dict]:
    """The ``levels:dungeon`` recipe: ``levels`` whole dungeons 16 x 16 (each its own window)."""
    p = _options(DUNGEON_DEFAULTS, options)
    n = int(options.get("levels") or 1000)
    rng = np.random.default_rng(seed)
    levels, refused = [], 0
    for i in range(n):
        lv, r = dungeon_level(rng, p)
        levels.append(lv)
        refused += r
        if progress and (i + 1) % 500 == 0:
            print(f"  {i + 1}/{n} dungeons")
    levels = np.stack(levels).astype(np.uint8)
    record = {"legend": DUNGEON_LEGEND.to_json(), "window": DUNGEON, "stride": DUNGEON, "refused_draws": refused,
              "params": p, "n_levels": n}
    return {"levels": levels, "windows": levels, "level_of": np.arange(n, dtype=np.int32)}, record
