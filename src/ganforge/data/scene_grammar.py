"""Captioned digit scenes: the attributes of a scene, the held-out combinations, and the
caption grammar (``text:digit-scenes``; rendering in ``data/scenes.py``).

A scene is one or two of scikit-learn's digits on a black canvas. Its attributes are one row
of :data:`COLUMNS` (int64, -1 where a second digit is absent):

- ``layout``: where the digit is (``left``, ``right``, ``top``, ``bottom``, ``centre``) or how
  two digits relate (``above``: digit A above digit B; ``left_of``: A left of B);
- ``digit_a``, ``colour_a``, ``size_a``: the (first) digit; ``digit_b``, ``colour_b``, ``size_b``
  the second one. In a pair A is the upper (``above``) or the left (``left_of``) digit,
  whichever the caption names first; both digits of a pair are small (two large digits do
  not fit side by side on 32 px).

Captions come from a small grammar with synonyms ("big", "large", "huge"), varied word order
("a big red seven on the left", "on the left there is a large 7 in red") and digits written
as words or figures; a pair can be named either way round ("a green 3 above a blue two", "a
blue two below a green 3"). Every caption names every attribute, so it determines its scene's
attributes exactly. The same seed gives the same captions (:func:`captions`).
"""

from __future__ import annotations

import numpy as np

COLOURS = ("red", "green", "blue", "yellow", "purple", "cyan")
RGB = {"red": (1.0, 0.15, 0.15), "green": (0.15, 0.85, 0.15), "blue": (0.25, 0.4, 1.0),
       "yellow": (1.0, 0.9, 0.1), "purple": (0.7, 0.25, 1.0), "cyan": (0.1, 0.9, 0.9)}
SIZES = ("small", "large")
LAYOUTS = ("left", "right", "top", "bottom", "centre", "above", "left_of")
SINGLE = LAYOUTS[:5]
COLUMNS = ("layout", "digit_a", "colour_a", "size_a", "digit_b", "colour_b", "size_b")
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# Held-out combinations: no training scene holds one; the evaluation asks for them.
# A (colour, digit) pair is held out for either digit of a scene; the others for one-digit scenes.
HELD_OUT = (
    {"colour": "red", "digit": 7},
    {"colour": "blue", "digit": 4},
    {"colour": "green", "digit": 2},
    {"size": "small", "digit": 4, "layout": "top"},
    {"size": "large", "digit": 9, "layout": "left"},
    {"colour": "yellow", "size": "large", "layout": "bottom"},
)

SIZE_WORDS = {"small": ("small", "little", "tiny"), "large": ("large", "big", "huge")}
PLACE = {"left": ("on the left", "at the left", "on the left side"),
         "right": ("on the right", "at the right", "on the right side"),
         "top": ("at the top", "on top", "near the top"),
         "bottom": ("at the bottom", "near the bottom", "on the bottom"),
         "centre": ("in the centre", "in the middle", "in the center")}
RELATION = {("above", False): ("above", "over"), ("above", True): ("below", "under", "beneath"),
            ("left_of", False): ("to the left of", "left of"), ("left_of", True): ("to the right of", "right of")}
SINGLE_TEMPLATES = (
    "a {s} {c} {d} {p}",
    "{p} there is a {s} {d} in {c}",
    "a {c} {d} that is {s} {p}",
    "{s} {c} {d} {p}",
    "the {d} is {s} and {c} {p}",
    "{p} a {s} {c} {d}",
    "a {s} {d} in {c} {p}",
)
PAIR_TEMPLATES = (
    "a {sa} {ca} {da} {r} a {sb} {cb} {db}",
    "{ca} {da} {r} {cb} {db}",
    "there is a {ca} {da} {r} a {cb} {db}",
    "a {da} in {ca} {r} a {db} in {cb}",
)


def held_out(row: np.ndarray) -> bool:
    """Whether the scene ``row`` (one row of :data:`COLUMNS`) holds a held-out combination."""
    layout = LAYOUTS[row[0]]
    digits = [(row[1], row[2], row[3])] + ([(row[4], row[5], row[6])] if row[4] >= 0 else [])
    for rule in HELD_OUT:
        if "layout" in rule and (len(digits) > 1 or layout != rule["layout"]):
            continue
        for d, c, s in digits:
            if all({"digit": d == rule.get("digit"), "colour": COLOURS[c] == rule.get("colour"),
                    "size": SIZES[s] == rule.get("size"), "layout": True}[k] for k in rule):
                return True
    return False


def random_scene(rng: np.random.Generator, pair_share: float = 0.3) -> np.ndarray:
    """One scene's attributes (7,) int64, uniform over what :data:`COLUMNS` allows."""
    if rng.random() < pair_share:
        layout = 5 + int(rng.integers(2))
        a, b = rng.integers(10, size=2), rng.integers(len(COLOURS), size=2)
        return np.array([layout, a[0], b[0], 0, a[1], b[1], 0], dtype=np.int64)
    return np.array([rng.integers(5), rng.integers(10), rng.integers(len(COLOURS)), rng.integers(2), -1, -1, -1],
                    dtype=np.int64)


def held_out_scene(rng: np.random.Generator) -> np.ndarray:
    """A one-digit scene that holds one of the :data:`HELD_OUT` combinations (a rule picked
    uniformly, the attributes it leaves open drawn uniformly)."""
    rule = HELD_OUT[int(rng.integers(len(HELD_OUT)))]
    row = random_scene(rng, pair_share=0.0)
    if "layout" in rule:
        row[0] = LAYOUTS.index(rule["layout"])
    if "digit" in rule:
        row[1] = rule["digit"]
    if "colour" in rule:
        row[2] = COLOURS.index(rule["colour"])
    if "size" in rule:
        row[3] = SIZES.index(rule["size"])
    return row


def _pick(rng: np.random.Generator, options) -> str:
    return options[int(rng.integers(len(options)))]


def _digit(rng: np.random.Generator, d: int) -> str:
    return WORDS[d] if rng.random() < 0.5 else str(d)


def _article(text: str) -> str:
    """"a eight" -> "an eight" (the grammar writes "a" before every noun phrase)."""
    words = text.split()
    return " ".join("an" if w == "a" and i + 1 < len(words) and words[i + 1] == "eight" else w
                    for i, w in enumerate(words))


def caption(row: np.ndarray, rng: np.random.Generator) -> str:
    """One caption of the scene ``row``, drawn on ``rng`` (template, synonyms, word or figure)."""
    layout = LAYOUTS[row[0]]
    if row[4] < 0:
        text = _pick(rng, SINGLE_TEMPLATES).format(
            s=_pick(rng, SIZE_WORDS[SIZES[row[3]]]), c=COLOURS[row[2]], d=_digit(rng, row[1]),
            p=_pick(rng, PLACE[layout]))
        return _article(text)
    swap = bool(rng.random() < 0.5)  # name B first: "a blue two below a green 3"
    first, second = ((row[4], row[5]), (row[1], row[2])) if swap else ((row[1], row[2]), (row[4], row[5]))
    text = _pick(rng, PAIR_TEMPLATES).format(
        sa=_pick(rng, SIZE_WORDS["small"]), sb=_pick(rng, SIZE_WORDS["small"]),
        ca=COLOURS[first[1]], da=_digit(rng, first[0]), cb=COLOURS[second[1]], db=_digit(rng, second[0]),
        r=_pick(rng, RELATION[(layout, swap)]))
    return _article(text)


def captions(rows: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``k`` captions of each scene of ``rows`` (N, 7): a str array (N, k); same seed, same captions."""
    rng = np.random.default_rng(seed)
    return np.array([[caption(r, rng) for _ in range(k)] for r in rows], dtype=str).reshape(len(rows), k)


def describe(row: np.ndarray) -> str:
    """The scene's attributes in words (the manifest's and the report's canonical caption)."""
    a = f"{SIZES[row[3]]} {COLOURS[row[2]]} {row[1]}"
    if row[4] < 0:
        return f"{a} {LAYOUTS[row[0]]}"
    return f"{a} {LAYOUTS[row[0]].replace('_', ' ')} {SIZES[row[6]]} {COLOURS[row[5]]} {row[4]}"


def held_out_words() -> list[str]:
    """The held-out combinations in words, as the manifest lists them."""
    return [" ".join(f"{k}={v}" for k, v in rule.items()) for rule in HELD_OUT]
