"""Captioned digit scenes (``text:digit-scenes``; ``data.name=digit_scenes``), their one-hot
attribute twin for the oracle baseline (``data.name=digit_scenes_attributes``), and the user's
own captioned images (``data.name=captioned``, ``data/captioned.py``).

A scene is a 32x32 (``data.resolution=64``: 64x64) RGB canvas holding one or two of
scikit-learn's bundled 8x8 digits, each coloured (6 colours), small or large, placed left,
right, top, bottom or in the centre, or a pair with one above / left of the other
(``data/scene_grammar.py``: attributes, held-out combinations, captions). The training scenes
use 4/5 of the bundled digit images and never hold a held-out combination; the test scenes
(half of them from the training distribution, half holding a held-out combination) use the
other fifth. Each training scene has :data:`CAPTIONS` captions; a batch draws one of them per
scene. ``ganforge dataset build text:digit-scenes --out SCENES.gfd`` writes the same arrays the
on-the-fly source makes (same options, same seed, same bytes).

Model space is [-1, 1] (``loc = scale = 0.5``); data space [0, 1].
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..conditions import Attributes, Captions, TextBatch, Vocabulary, pad_texts
from ..config import DataConfig
from ..errors import GanforgeError
from . import scene_grammar as sg
from .base import DataSource, Finite, Normalized, register_dataset
from .kinds import IMAGE
from .sampling import EpochSampler

DATA_SEED = 0  # the on-the-fly scenes are the same set for every run seed (the built set's default seed)
N_TRAIN, N_TEST, CAPTIONS = 10000, 1000, 5
SIDE = {"small": 10, "large": 18}  # pixels at 32 px (scaled with the resolution)
# (x, y) centres at 32 px: one digit by its layout and size, a pair by its layout (A, B)
CENTRE = {("left", "small"): (8, 16), ("right", "small"): (24, 16), ("top", "small"): (16, 8),
          ("bottom", "small"): (16, 24), ("centre", "small"): (16, 16),
          ("left", "large"): (10, 16), ("right", "large"): (22, 16), ("top", "large"): (16, 10),
          ("bottom", "large"): (16, 22), ("centre", "large"): (16, 16)}
PAIR = {"above": ((16, 9), (16, 23)), "left_of": ((9, 16), (23, 16))}
# a sample figure's rows: (prompt, scene); the first four hold held-out combinations
PROMPTS = (
    ("a big red seven on the left", [0, 7, 0, 1, -1, -1, -1]),
    ("a small blue 4 on the right", [1, 4, 2, 0, -1, -1, -1]),
    ("a small green two in the centre", [4, 2, 1, 0, -1, -1, -1]),
    ("a small yellow 4 at the top", [2, 4, 3, 0, -1, -1, -1]),
    ("a large cyan 3 at the bottom", [3, 3, 5, 1, -1, -1, -1]),
    ("a big purple eight in the middle", [4, 8, 4, 1, -1, -1, -1]),
    ("a green 3 above a blue five", [5, 3, 1, 0, 5, 2, 0]),
    ("a red 1 to the left of a yellow 6", [6, 1, 0, 0, 6, 3, 0]),
)
HELD_OUT_PROMPTS = 4
PER_PROMPT = 4  # an evaluation draws this many samples of each test caption (diversity within a prompt)


@lru_cache(maxsize=1)
def _glyphs() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as float32 (1797, 8, 8) in [0, 1] and their labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)


def render(rows: np.ndarray, resolution: int, test: bool, rng: np.random.Generator) -> np.ndarray:
    """Scenes ``rows`` (N, 7) drawn as uint8 (N, 3, R, R): each digit an image of its class
    (the test fifth of the bundled digits when ``test``), resized, coloured, jittered by up to
    1 px (at 32 px) and max-blended onto black."""
    glyphs, labels = _glyphs()
    split = (np.arange(len(labels)) % 5 == 0) == test
    by_class = [np.flatnonzero(split & (labels == d)) for d in range(10)]
    k = resolution / 32
    banks = {s: F.interpolate(torch.from_numpy(glyphs)[:, None], size=(round(p * k),) * 2, mode="bilinear",
                              align_corners=False)[:, 0].clamp(0, 1).numpy() for s, p in SIDE.items()}
    out = np.zeros((len(rows), 3, resolution, resolution), dtype=np.float32)
    for i, r in enumerate(rows):
        layout = sg.LAYOUTS[r[0]]
        if r[4] < 0:
            digits = [(r[1], r[2], sg.SIZES[r[3]], CENTRE[(layout, sg.SIZES[r[3]])])]
        else:
            (ca, cb) = PAIR[layout]
            digits = [(r[1], r[2], "small", ca), (r[4], r[5], "small", cb)]
        for d, c, size, (cx, cy) in digits:
            g = banks[size][by_class[d][rng.integers(len(by_class[d]))]]  # (s, s)
            s = g.shape[0]
            jx, jy = (rng.integers(-1, 2, size=2) * k).round().astype(int)
            x0 = int(np.clip(round(cx * k) - s // 2 + jx, 0, resolution - s))
            y0 = int(np.clip(round(cy * k) - s // 2 + jy, 0, resolution - s))
            tint = np.array(sg.RGB[sg.COLOURS[c]], dtype=np.float32)[:, None, None] * g[None]  # (3, s, s)
            out[i, :, y0:y0 + s, x0:x0 + s] = np.maximum(out[i, :, y0:y0 + s, x0:x0 + s], tint)
    return (out * 255).round().astype(np.uint8)


def _scenes(n: int, rng: np.random.Generator, held: bool) -> np.ndarray:
    out = []
    while len(out) < n:
        r = sg.held_out_scene(rng) if held else sg.random_scene(rng)
        if held or not sg.held_out(r):
            out.append(r)
    return np.stack(out) if out else np.zeros((0, 7), dtype=np.int64)


def make(options: dict, seed: int, progress: bool = False) -> tuple[dict, dict]:
    """The ``text:digit-scenes`` recipe: training scenes (images, attributes, captions) and test
    scenes (half seen combinations, half held out; ``test_held_out`` says which)."""
    n, n_test, r, k = options["n"], options["test"], options["side"], options["captions"]
    if n < 1 or n_test < 2 or k < 1:
        raise GanforgeError(f"dataset build text:digit-scenes: --n {n}, --test {n_test}, --captions {k}: need "
                            "n >= 1, test >= 2 and captions >= 1")
    rng = np.random.default_rng(seed)
    train = _scenes(n, rng, held=False)
    test = np.concatenate([_scenes(n_test - n_test // 2, rng, held=False), _scenes(n_test // 2, rng, held=True)])
    arrays = {"images": render(train, r, False, rng), "attributes": train,
              "captions": sg.captions(train, k, seed + 1),
              "test_images": render(test, r, True, rng), "test_attributes": test,
              "test_captions": sg.captions(test, k, seed + 2),
              "test_held_out": np.array([sg.held_out(t) for t in test])}
    record = {"columns": list(sg.COLUMNS), "layouts": list(sg.LAYOUTS), "colours": list(sg.COLOURS),
              "sizes": list(sg.SIZES), "held_out": sg.held_out_words(), "n_train": n, "n_test": n_test,
              "n_test_held_out": int(arrays["test_held_out"].sum()), "captions_per_scene": k,
              "digit_images": "scikit-learn digits: training scenes i % 5 != 0, test scenes i % 5 == 0",
              "example_captions": [str(c) for c in arrays["captions"][:5, 0]]}
    return arrays, record


@lru_cache(maxsize=2)
def _on_the_fly(resolution: int) -> dict:
    return make({"n": N_TRAIN, "test": N_TEST, "side": resolution, "captions": CAPTIONS}, DATA_SEED)[0]


def scene_arrays(cfg: DataConfig) -> dict:
    """The scenes' arrays: the built set at ``data.path``, else made from :data:`DATA_SEED`."""
    if cfg.resolution not in (32, 64):
        raise GanforgeError(f"data.resolution={cfg.resolution}: digit scenes are 32 or 64 px")
    if not cfg.path:
        return _on_the_fly(cfg.resolution)
    from .generated import open_set

    s = open_set(cfg.path, expect="text:digit-scenes")
    arrays = {k: np.array(s.array(k)) for k in s.manifest["arrays"]}  # copies: writable, off the memory map
    if arrays["images"].shape[-1] != cfg.resolution:
        raise GanforgeError(f"data.path={cfg.path}: its scenes are {arrays['images'].shape[-1]} px; set "
                            f"data.resolution={arrays['images'].shape[-1]}")
    return arrays


def one_hot(rows: np.ndarray) -> Tensor:
    """Scenes (N, 7) -> the oracle's attribute vectors (N, 41) float32: one-hot layout (7),
    digit A (10), colour A (6), size A (2), digit B (10), colour B (6); B all zero when absent."""
    rows = torch.as_tensor(np.asarray(rows), dtype=torch.int64)
    parts = [F.one_hot(rows[:, 0], 7), F.one_hot(rows[:, 1], 10), F.one_hot(rows[:, 2], 6), F.one_hot(rows[:, 3], 2)]
    has_b = (rows[:, 4] >= 0)[:, None]
    parts += [F.one_hot(rows[:, 4].clamp(min=0), 10) * has_b, F.one_hot(rows[:, 5].clamp(min=0), 6) * has_b]
    return torch.cat(parts, 1).float()


class SceneAttributes(Attributes):
    """The oracle's condition: the scene's attribute vector (one-hot, :func:`one_hot`), whose
    figure rows are the prompts' scenes, named by their prompts."""

    def rows(self, limit: int = 16):
        return one_hot(np.array([r for _, r in PROMPTS[:limit]])), [p for p, _ in PROMPTS[:limit]]


class CaptionedImages(Normalized, DataSource, Finite):
    """Images (N, 3, R, R) uint8 with ``captions`` (N, K) str (K per image; "" for none), served
    in epochs with one of each image's captions per draw, as a :class:`TextBatch` (``attributes``
    set: the one-hot attribute vectors of ``attributes`` instead, the oracle). ``test``: the
    scenes' test split (images, attributes, captions, held_out) or None."""

    kind = IMAGE

    def __init__(self, images: np.ndarray, captions: np.ndarray, seed: int, attributes: Optional[np.ndarray] = None,
                 test: Optional[dict] = None, oracle: bool = False, prompts=(), info: Optional[dict] = None):
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.has = torch.from_numpy(np.asarray(captions, dtype=str).reshape(len(images), -1) != "")  # (N, K) bool
        self.shape = tuple(self.images.shape[1:])
        self.captions = np.asarray(captions, dtype=str).reshape(len(images), -1)
        self.attributes = attributes
        self.test, self.info = test, dict(info or {})
        self.labels, self.holdout = None, None
        c = self.shape[0]
        self.loc, self.scale = torch.full((c, 1, 1), 0.5), torch.full((c, 1, 1), 0.5)
        self.seed = seed
        self.order = EpochSampler(len(self.images), seed)
        self.pick = torch.Generator().manual_seed(seed + 1)  # which caption of each scene a draw takes
        flat = [str(t) for t in self.captions.reshape(-1)]
        vocab = Vocabulary.from_captions(t for t in flat if t)
        known = {t: vocab.encode(t, "caption") for t in set(flat) if t}  # each distinct caption once
        ids = [known.get(t, [1]) for t in flat]  # a missing caption ("") is never drawn
        self.tokens = pad_texts(ids, max(map(len, ids)), len(vocab), 0, "captions")  # (N * K, L)
        self.text = Captions(self.tokens[self.has_rows(flat)], vocab, prompts)
        self.oracle = oracle
        self.condition_spec = SceneAttributes(one_hot(attributes)) if oracle else self.text
        self.served = None

    @staticmethod
    def has_rows(flat: list) -> Tensor:
        return torch.tensor([bool(t) for t in flat])

    @property
    def evaluator(self) -> str:
        return "scenes" if self.test is not None else "energy"

    def conditions(self, idx: Tensor) -> object:
        """The conditions of the scenes ``idx`` (n,): one drawn caption each, or their attributes."""
        if self.oracle:
            return one_hot(self.attributes[idx.numpy()])
        k = self.captions.shape[1]
        weights = self.has[idx].float()  # (n, K)
        col = torch.multinomial(weights, 1, generator=self.pick)[:, 0]  # (n,)
        return self.tokens[idx * k + col]

    def sample(self, n: int) -> tuple[Tensor, object]:
        idx = self.order.next(n)
        return self.encode(self.images[idx].float() / 255), self.conditions(idx)

    def reference(self, n: int, seed: int) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        return self.images[torch.randperm(len(self.images), generator=g)[:n]].float() / 255

    def eval_set(self, n: int) -> dict:
        """What an evaluation of n samples asks for: the test scenes in order, each
        :data:`PER_PROMPT` times in a row, seen and held-out scenes in turn (one caption each; cycled past the test split's end
        with the next caption), as ``attributes`` (n, 7), ``captions`` (n,) str, ``held_out``
        (n,) bool, and ``scene`` (n,) the test scene's index."""
        t = self.test
        m, k = len(t["attributes"]), t["captions"].shape[1]
        h = m // 2  # the first half of the test split holds seen combinations, the second held-out ones
        order = np.concatenate([np.stack([np.arange(h), np.arange(h, 2 * h)], 1).reshape(-1), np.arange(2 * h, m)])
        j = np.arange(n) // PER_PROMPT  # the prompt of each sample: seen and held-out scenes in turn
        i = order[j % m]
        return {"attributes": np.asarray(t["attributes"])[i], "held_out": np.asarray(t["held_out"])[i], "scene": i,
                "captions": [str(t["captions"][a, (b // m) % k]) for a, b in zip(i, j)]}

    def eval_conditions(self, n: int):
        """What G is asked for the first n test scenes: their captions (a TextBatch), or their
        attribute vectors for the oracle."""
        e = self.eval_set(n)
        return one_hot(e["attributes"]) if self.oracle else self.text.encode_known(e["captions"])

    def keep_first(self, n: int) -> None:
        self.images, self.captions, self.has = self.images[:n], self.captions[:n], self.has[:n]
        if self.attributes is not None:
            self.attributes = self.attributes[:n]
        self.order = EpochSampler(len(self.images), self.seed)

    def nbytes(self) -> int:
        return self.images.numel()

    def hold_on(self, device: torch.device) -> None:
        pass  # batches are cut on the CPU (a caption is drawn per scene)

    def state_dict(self) -> dict:
        return {"order": self.order.state_dict(), "pick": self.pick.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.order.load_state_dict(state["order"])
        self.pick.set_state(state["pick"])


def _scene_source(cfg: DataConfig, seed: int, oracle: bool) -> CaptionedImages:
    a = scene_arrays(cfg)
    test = {"images": a["test_images"], "attributes": a["test_attributes"], "captions": a["test_captions"],
            "held_out": a["test_held_out"]}
    return CaptionedImages(a["images"], a["captions"], seed, a["attributes"], test, oracle,
                           [p for p, _ in PROMPTS], {"format": "built" if cfg.path else "generated"})


@register_dataset(IMAGE)
def digit_scenes(cfg: DataConfig, seed: int) -> CaptionedImages:
    """Captioned digit scenes (text to image): ``data.path`` a ``text:digit-scenes`` set, else made on the fly."""
    return _scene_source(cfg, seed, oracle=False)


@register_dataset(IMAGE)
def digit_scenes_attributes(cfg: DataConfig, seed: int) -> CaptionedImages:
    """The digit scenes conditioned on their one-hot attribute vectors (the oracle baseline)."""
    return _scene_source(cfg, seed, oracle=True)


__all__ = ["CaptionedImages", "PROMPTS", "TextBatch", "digit_scenes", "digit_scenes_attributes", "make", "one_hot"]
