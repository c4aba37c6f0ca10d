"""Measuring text to image on the digit scenes (the ``scenes`` evaluator).

- **Attribute accuracy**: a classifier with one head per attribute (layout, digit, colour and
  size of digit A, digit and colour of digit B or none), trained once on the real training
  scenes and cached (``$GANFORGE_CACHE/scenes-classifier-*.pt``) with its accuracy on the real
  test scenes. A generated image counts as right when *every* head reads what its prompt says:
  ``attr_acc`` over all prompts, ``attr_acc_seen`` / ``attr_acc_held_out`` on the seen and the
  held-out combinations; ``attr_acc_real`` is the classifier's own score on real test scenes
  (the ceiling it can measure).
- **R-precision** (AttnGAN / DF-GAN's protocol): a separately trained image-text matcher (its
  own text and image encoders, sentence-level contrastive loss, another seed: not the run's
  encoder) ranks each image's true caption against 99 captions of other test scenes; the share
  ranked first. ``r_precision_real``: the same for the real test images.
- **FID** in the attribute classifier's feature space (its 256-d penultimate layer), generated
  images against the real test scenes (``fid``): not Inception's, so comparable only here.
- **Diversity within a prompt**: each test caption is asked for 4 times; the mean pairwise
  distance of the 4 images' classifier features, divided by the same for 4 fresh renderings
  of the same scene with other digit images and jitter (``diversity``; 1 = as varied as real,
  0 = one image per prompt).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as Fn
from torch import Tensor, nn

from ..cache import cache_dir
from .distances import fid_kid

CLASSIFIER_STEPS = 800  # Adam steps of the attribute classifier (batch 128)
MATCHER_STEPS = 800  # ... of the R-precision matcher
FID_MIN = 256  # samples below which no FID is given
CANDIDATES = 100  # R-precision: 1 true caption and 99 others
HEADS = (("layout", 7), ("digit_a", 10), ("colour_a", 6), ("size_a", 2), ("digit_b", 11), ("colour_b", 7))


def targets(attributes: np.ndarray) -> Tensor:
    """Scenes (N, 7) -> each head's class (N, 6) int64: digit B and colour B shifted by one (0: none)."""
    a = torch.as_tensor(np.asarray(attributes), dtype=torch.int64)
    return torch.stack([a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4] + 1, a[:, 5] + 1], 1)


class SceneClassifier(nn.Module):
    """x (B, 3, R, R) in [0, 1] -> one logit vector per head; ``features`` (B, 256)."""

    def __init__(self, resolution: int):
        super().__init__()
        layers, ch, r = [nn.Conv2d(3, 32, 3, 1, 1), nn.LeakyReLU(0.2)], 32, resolution
        for width in (64, 128, 128):  # R -> R / 8 (4x4 at 32 px)
            # GroupNorm, not BatchNorm: the same function in training and in eval mode (BatchNorm's running
            # statistics read these scenes far worse than its batch statistics did)
            layers += [nn.Conv2d(ch, width, 3, 2, 1), nn.GroupNorm(8, width), nn.LeakyReLU(0.2)]
            ch, r = width, r // 2
        self.trunk = nn.Sequential(*layers, nn.Flatten(), nn.Linear(ch * r * r, 256), nn.LeakyReLU(0.2))
        self.heads = nn.ModuleList(nn.Linear(256, k) for _, k in HEADS)

    def features(self, x: Tensor) -> Tensor:
        return self.trunk(x * 2 - 1)

    def forward(self, x: Tensor) -> list[Tensor]:
        f = self.features(x)
        return [h(f) for h in self.heads]


class Matcher(nn.Module):
    """The R-precision matcher: images and captions to unit vectors whose dot product scores a pair."""

    def __init__(self, vocab: int, resolution: int):
        super().__init__()
        from ..models.dfgan import ImageEncoder, TextEncoder

        self.text, self.image = TextEncoder(vocab), ImageEncoder(resolution)

    def embed_images(self, x: Tensor) -> Tensor:
        return Fn.normalize(self.image(x * 2 - 1)[1], dim=1)

    def embed_texts(self, batch) -> Tensor:
        return Fn.normalize(self.text(batch.tokens, batch.mask)[1], dim=1)


def _key(data, what: str, steps: int) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(data.attributes).tobytes())
    h.update(data.images[: min(2000, len(data.images))].numpy().tobytes())
    h.update(f"{what}:{'v2:' if what == 'classifier' else ''}{steps}:{data.shape}:{len(data.text.vocabulary)}".encode())
    return h.hexdigest()[:16]


def _batches(n: int, size: int, gen: torch.Generator):
    while True:
        yield torch.randint(n, (size,), generator=gen)


@torch.no_grad()
def _predict(clf: SceneClassifier, x: Tensor, batch: int = 500) -> tuple[Tensor, Tensor]:
    """Each head's class (n, 6) and the features (n, 256) of images x in [0, 1]."""
    preds, feats = [], []
    for i in range(0, len(x), batch):
        f = clf.features(x[i:i + batch])
        preds.append(torch.stack([h(f).argmax(1) for h in clf.heads], 1))
        feats.append(f)
    return torch.cat(preds), torch.cat(feats)


def _test_images(data) -> Tensor:
    return torch.from_numpy(np.asarray(data.test["images"])).float() / 255


def scene_classifier(data) -> tuple[SceneClassifier, dict]:
    """The attribute classifier of ``data``'s scenes, trained once and cached, in eval mode,
    and its accuracy on the real test scenes (every head, and all at once)."""
    path = cache_dir() / f"scenes-classifier-{_key(data, 'classifier', CLASSIFIER_STEPS)}.pt"
    clf = SceneClassifier(data.shape[1])
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        clf.load_state_dict(saved["state"])
        return clf.eval(), saved["accuracy"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        clf = SceneClassifier(data.shape[1])
        opt = torch.optim.Adam(clf.parameters(), lr=1e-3)
        y_all = targets(data.attributes)
        gen = torch.Generator().manual_seed(0)
        for _, idx in zip(range(CLASSIFIER_STEPS), _batches(len(data.images), 128, gen)):
            x = data.images[idx].float() / 255
            loss = sum(Fn.cross_entropy(o, y_all[idx, k]) for k, o in enumerate(clf(x)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    clf.eval()
    pred, _ = _predict(clf, _test_images(data))
    ok = pred == targets(data.test["attributes"])
    acc = {name: float(ok[:, k].float().mean()) for k, (name, _) in enumerate(HEADS)}
    acc["all"] = float(ok.all(1).float().mean())
    _save(path, {"state": clf.state_dict(), "accuracy": acc})
    return clf, acc


def _save(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def scene_matcher(data) -> Matcher:
    """The R-precision matcher of ``data``, trained once on real training pairs (sentence-level
    contrastive loss, gamma 10, seed 1) and cached, in eval mode."""
    vocab = data.text.vocabulary
    path = cache_dir() / f"scenes-matcher-{_key(data, 'matcher', MATCHER_STEPS)}.pt"
    m = Matcher(len(vocab), data.shape[1])
    if path.is_file():
        m.load_state_dict(torch.load(path, weights_only=True)["state"])
        return m.eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        m = Matcher(len(vocab), data.shape[1])
        opt = torch.optim.Adam(m.parameters(), lr=2e-3)
        gen = torch.Generator().manual_seed(1)
        k = data.captions.shape[1]
        for _, idx in zip(range(MATCHER_STEPS), _batches(len(data.images), 128, gen)):
            col = torch.randint(k, (len(idx),), generator=gen)
            texts = data.tokens[idx * k + col]
            img, txt = m.embed_images(data.images[idx].float() / 255), m.embed_texts(texts)
            sim = img @ txt.T * 10.0
            same = (texts.tokens[:, None] == texts.tokens[None]).all(2)  # the same caption twice: not a negative
            sim = sim.masked_fill(same & ~torch.eye(len(idx), dtype=torch.bool), float("-inf"))
            target = torch.arange(len(idx))
            loss = Fn.cross_entropy(sim, target) + Fn.cross_entropy(sim.T, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    _save(path, {"state": m.state_dict()})
    return m.eval()


@torch.no_grad()
def r_precision(m: Matcher, x: Tensor, captions: list, data, seed: int) -> float:
    """The share of images x (n, 3, R, R) whose own caption the matcher ranks first among it
    and 99 captions of other test scenes (drawn with ``seed``; none describes the same scene)."""
    t = data.test
    pool = [str(c) for c in np.asarray(t["captions"]).reshape(-1)]
    owner = np.repeat(np.arange(len(t["captions"])), t["captions"].shape[1])
    attrs = np.asarray(t["attributes"])
    pool_emb = torch.cat([m.embed_texts(data.text.encode_known(pool[i:i + 1000]))
                          for i in range(0, len(pool), 1000)])  # (P, E)
    true_emb = torch.cat([m.embed_texts(data.text.encode_known(captions[i:i + 1000]))
                          for i in range(0, len(captions), 1000)])  # (n, E)
    img = torch.cat([m.embed_images(x[i:i + 1000]) for i in range(0, len(x), 1000)])  # (n, E)
    rng = np.random.default_rng(seed)
    hits = 0
    for i, cap in enumerate(captions):
        true_scene = attrs[owner[pool.index(cap)]] if cap in pool else None
        others = rng.choice(len(pool), min(len(pool), CANDIDATES * 2), replace=False)
        if true_scene is not None:
            others = others[~(attrs[owner[others]] == true_scene).all(1)]
        others = others[: CANDIDATES - 1]
        s_true = float(img[i] @ true_emb[i])
        hits += int(bool((pool_emb[others] @ img[i] < s_true).all()))
    return hits / max(1, len(captions))


def _spread(f: Tensor, group: int) -> float:
    """Mean pairwise distance within consecutive groups of ``group`` rows of f (n, d)."""
    g = f[: len(f) // group * group].view(-1, group, f.shape[1])
    d = torch.cdist(g, g)  # (G, k, k)
    return float(d.sum() / (len(g) * group * (group - 1)))


def scene_metrics(x: Tensor, data, seed: int) -> dict:
    """Every metric above for images x (n, 3, R, R) in [0, 1] made for ``data.eval_set(n)``."""
    from ..data.scenes import PER_PROMPT, render

    n = len(x)
    e = data.eval_set(n)
    clf, real_acc = scene_classifier(data)
    pred, f_fake = _predict(clf, x.float())
    ok = pred == targets(e["attributes"])
    every = ok.all(1).float()
    held = torch.from_numpy(e["held_out"])
    m = {"attr_acc": float(every.mean()),
         "attr_acc_seen": float(every[~held].mean()) if bool((~held).any()) else float("nan"),
         "attr_acc_held_out": float(every[held].mean()) if bool(held.any()) else float("nan"),
         "attr_acc_real": real_acc["all"]}
    for name, cols in (("digit", [1, 4]), ("colour", [2, 5]), ("size", [3]), ("position", [0])):
        m[f"acc_{name}"] = float(ok[:, cols].all(1).float().mean())
    matcher = scene_matcher(data)
    m["r_precision"] = r_precision(matcher, x.float(), e["captions"], data, seed)
    real = _test_images(data)
    idx = np.arange(min(n, len(real)))
    m["r_precision_real"] = r_precision(matcher, real[idx], [str(data.test["captions"][i, 0]) for i in idx], data, seed)
    if n >= FID_MIN:  # fewer samples than that give no meaningful covariance of 256 features
        _, f_real = _predict(clf, real)
        m["fid"] = fid_kid(f_real, f_fake, seed)["fid"]
    rows = e["attributes"][:: PER_PROMPT]
    again = render(np.repeat(rows, PER_PROMPT, axis=0), data.shape[1], True, np.random.default_rng(seed))
    _, f_again = _predict(clf, torch.from_numpy(again).float() / 255)
    if n >= 2 * PER_PROMPT:
        m["diversity"] = _spread(f_fake, PER_PROMPT) / max(_spread(f_again[:n], PER_PROMPT), 1e-8)
    m = {k: v for k, v in m.items() if v == v}  # no NaN (no held-out prompt among few samples)
    m["n"] = n
    m["provenance"] = {"feature_space": "attribute classifier trained on the real training scenes (256-d)",
                       "n_real": len(real), "n_fake": n, "seed": seed,
                       "classifier_accuracy_real": real_acc,
                       "matcher": "sentence-level image-text matcher trained on real pairs (not the run's encoder)"}
    return m
